"""docs/configuration.md gives each threshold's default as `Thresholds` holds it: the page
is where operators read the levels, the config the one place they are set."""

from __future__ import annotations

import re
from pathlib import Path

from registry_monitor.config import Levels, Thresholds

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `thresholds\.(\w+)` \| `([^`]*)` \|")


def documented_thresholds(root: Path) -> dict[str, str]:
    """The default each `thresholds.<name>` row of the configuration page gives, by name."""
    text = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    return {m[1]: m[2] for line in text.splitlines() if (m := ROW.match(line))}


def as_documented(levels: Levels) -> str:
    return f"{{warning: {levels.warning:g}, critical: {levels.critical:g}}}"


def test_the_configuration_page_gives_the_config_defaults() -> None:
    defaults = Thresholds()
    assert documented_thresholds(ROOT) == {
        name: as_documented(getattr(defaults, name)) for name in Thresholds._fields
    }


def test_a_row_that_drifted_is_seen(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "configuration.md").write_text(
        "| `thresholds.disk_used_percent` | `{warning: 85, critical: 90}` | used % |\n"
        "| `thresholds.*` | | the levels |\n"
    )
    assert documented_thresholds(tmp_path) == {"disk_used_percent": "{warning: 85, critical: 90}"}
