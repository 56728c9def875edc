"""Defaults and shipped files read against the hosts as puppet renders them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry_monitor.config.loading import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("role", ["active", "standby"])
def test_example_configs_read_the_log_puppet_leaves(role: str, tmp_path: Path) -> None:
    """The site puppet renders (modules/docker/templates/registry-nginx.conf.erb) names no
    access_log: nginx writes Debian's default `combined`; a log_format added by hand is
    reverted, after which every line would be skipped."""
    path = ROOT / "deploy" / f"config.{role}.yaml"
    edited = tmp_path / path.name  # the example's token placeholder is refused: an operator's
    edited.write_text(
        path.read_text().replace("CHANGE-ME-to-a-long-random-string", "9d1c7f3e5b2a4c6e8f0a")
    )
    config = load_config(edited)
    assert config.access_log is not None
    assert (config.access_log.path, config.access_log.format) == (
        Path("/var/log/nginx/access.log"),
        "combined",
    )
    assert "registry_monitor" not in re.sub(r"^#.*$", "", path.read_text(), flags=re.M)


def test_the_units_documentation_is_what_the_package_installs() -> None:
    unit = (ROOT / "deploy" / "registry-exporter.service").read_text()
    docs = [
        line.split("=", 1)[1].split()
        for line in unit.splitlines()
        if line.startswith("Documentation=")
    ]
    assert docs == [["man:registry-exporter(1)", "man:check_registry(1)"]]
    rules = (ROOT / "debian" / "rules").read_text()
    installed = re.search(r"dh_installman (.*)", rules)
    assert installed is not None
    for entry in docs[0]:
        page = re.fullmatch(r"man:([\w-]+)\((\d)\)", entry)
        assert page is not None, entry
        assert f"debian/man/{page[1]}.{page[2]}" in installed[1].split()
        assert f"--output debian/man/{page[1]}.{page[2]}" in rules
