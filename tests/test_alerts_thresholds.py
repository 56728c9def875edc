"""alerts/thresholds.yaml, written from the config's Thresholds and alerts/thresholds.py, and a
deployment's copy written from its own config by alerts.configure --config."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.rule_files import rules
from alerts.thresholds import ALERT_ONLY, THRESHOLDS_FILE, document, literal
from alerts.thresholds import main as write_thresholds
from registry_monitor.config import Levels, Thresholds
from tests.support.runbook import RUNBOOK

ROOT = Path(__file__).resolve().parent.parent


def levels_in(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["labels"]["threshold"], r["labels"]["level"]): r["expr"] for r in rules(doc)}


def test_the_committed_rule_file_is_the_one_the_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "thresholds.yaml"
    assert write_thresholds(["--out", str(out)]) == 0
    assert out.read_text() == THRESHOLDS_FILE.read_text(), "stale: run `make generated`"


def test_alert_only_levels_are_no_config_thresholds() -> None:
    config_names = {f.name for f in dataclasses.fields(Thresholds)}
    assert not config_names & {t.threshold for t in ALERT_ONLY}
    keys = [(t.threshold, t.level) for t in ALERT_ONLY]
    assert len(keys) == len(set(keys))


def test_the_rules_take_the_config_thresholds_given() -> None:
    tuned = Thresholds(
        disk_used_percent=Levels(warning=85, critical=95.5),
        cert_lifetime_left_ratio=Levels(warning=0.3, critical=0.05),
    )
    found, defaults = levels_in(document(tuned)), levels_in(document())
    changed = {key: expr for key, expr in found.items() if defaults[key] != expr}
    assert changed == {
        ("disk_used_percent", "warning"): "vector(85)",
        ("disk_used_percent", "critical"): "vector(95.5)",
        ("cert_lifetime_left_ratio", "warning"): "vector(0.3)",
        ("cert_lifetime_left_ratio", "critical"): "vector(0.05)",
    }
    assert list(found) == list(defaults)  # the same rules, in the same order


@pytest.mark.parametrize(
    ("value", "written"), [(80, "80"), (80.0, "80"), (0.1, "0.1"), (1800.5, "1800.5"), (-3, "-3")]
)
def test_a_number_is_written_as_promql_reads_it(value: float, written: str) -> None:
    assert literal(value) == written


def test_a_level_that_is_no_number_is_refused_with_its_key() -> None:
    with pytest.raises(ValueError) as exc:
        document(Thresholds(api_latency_seconds=Levels(warning=2, critical=float("inf"))))
    assert (
        str(exc.value) == "thresholds.api_latency_seconds.critical: not a finite number (got inf)"
    )


def test_the_runbook_counts_the_threshold_series() -> None:
    count = len(list(rules(document())))
    assert f"return {count} series, one per threshold and level" in " ".join(
        RUNBOOK.read_text().split()
    )


def test_the_rule_writers_load_nothing_but_pyyaml_and_the_config_model() -> None:
    """alerts.configure runs from a clone with only Python and PyYAML (alerts/README.md):
    every module it loads is the standard library's, this tree's, or a distribution's."""
    code = """
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
before = set(sys.modules)
import alerts.configure, alerts.thresholds
owners = packages_distributions()
found = set()
for name in set(sys.modules) - before:
    file, top = getattr(sys.modules[name], "__file__", None), name.split(".")[0]
    if file is None or top in sys.stdlib_module_names:
        continue
    installed = Path(file).is_relative_to(sys.prefix) or not Path(file).is_relative_to(Path.cwd())
    found.add(owners[top][0] if installed else f"project:{top}")
print(sorted(found))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert yaml.safe_load(done.stdout) == ["PyYAML", "project:alerts", "project:registry_monitor"]
