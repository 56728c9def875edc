"""The drop-in the package ships for puppet's sync unit, read by systemd's own parser.

`systemd-analyze verify` loads the unit as puppet renders it (below) with the drop-in
beside it, as systemd finds drop-ins on the unit path, and fails on an unknown key,
a bad line or a command that is not executable. The fake systemctl cannot run
ExecStartPre=; what the guard does when the unit runs it is tested on the real pair
(tests/test_sync_guard_pair.py).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DROP_IN = REPO / "deploy/rsync-docker-registry-sync.service.d/registry-monitor-guard.conf"
UNIT = "rsync-docker-registry-sync.service"
SHIPPED_AT = f"/lib/systemd/system/{UNIT}.d/registry-monitor-guard.conf"
CHECK_REGISTRY = str(Path(sys.executable).parent / "check_registry")

# What operations/puppet renders for the standby: modules/systemd/templates/timer_service.erb
# for systemd::timer::job { 'rsync-docker-registry-sync': user => 'root', command =>
# '/usr/local/sbin/sync-docker-registry-sync' } (modules/rsync/manifests/quickdatacopy.pp);
# that script runs /usr/bin/rsync --delete -a --progress rsync://<active>/docker-registry-sync
# /srv/registry/. The command is pointed at an executable of this machine for verify.
PUPPET_UNIT = """\
[Unit]
Description=Transfer data periodically between hosts
Documentation=https://wikitech.wikimedia.org/wiki/Monitoring/systemd_unit_state

[Service]
Type=oneshot
User=root
ExecStart={command}
"""


def service_section(path: Path) -> list[tuple[str, str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    assert parser.sections() == ["Service"]
    return list(parser.items("Service"))


def test_the_drop_in_runs_the_guard_before_rsync_and_fails_the_unit_on_refusal() -> None:
    # ExecStartPre= without "-": a non-zero exit fails the unit (ExecCondition= would skip it)
    assert service_section(DROP_IN) == [("ExecStartPre", "/usr/bin/check_registry sync-guard")]


def test_the_package_installs_it_beside_puppets_unit_not_in_etc() -> None:
    rules = (REPO / "debian/rules").read_text()
    assert f"debian/registry-monitor{SHIPPED_AT}" in rules
    assert f"install -D -m 0644 {DROP_IN.relative_to(REPO)}" in rules


def verify(tmp_path: Path, drop_in_text: str) -> subprocess.CompletedProcess[str]:
    units = tmp_path / "units"
    (units / f"{UNIT}.d").mkdir(parents=True)
    (units / UNIT).write_text(PUPPET_UNIT.format(command=shutil.which("true") or "/bin/true"))
    (units / f"{UNIT}.d/registry-monitor-guard.conf").write_text(drop_in_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(units / UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:", "SYSTEMD_LOG_COLOR": "0"},
    )


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


@needs_analyze
def test_systemd_accepts_the_unit_with_the_drop_in(tmp_path: Path) -> None:
    # the shipped text, with the command at this machine's check_registry
    text = DROP_IN.read_text().replace("/usr/bin/check_registry", CHECK_REGISTRY)
    done = verify(tmp_path, text)
    assert (done.returncode, done.stderr) == (0, "")


@needs_analyze
def test_systemd_reads_the_drop_in(tmp_path: Path) -> None:
    """The verify above would pass on a drop-in systemd never read: a broken one must fail."""
    done = verify(tmp_path, "[Service]\nExecStartPre=/nonexistent/check_registry sync-guard\n")
    assert done.returncode != 0
    assert "/nonexistent/check_registry" in done.stderr
