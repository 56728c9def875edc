"""The sync unit and timer as puppet's rsync::quickdatacopy renders them on the standby,
under real systemd: a real timer firing (its period shortened by a drop-in), and the
exit codes 0, 23 and 24 as systemd records them, read by the exporter's sync probe
from inside its sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import installed
from testbed.puppet_hosts import SYNC_UNIT
from tests.support.metrics import value
from tests.support.realhosts import RealNode, booted, deb  # noqa: F401  (the session's .deb)

# a host boots, installs and starts in about a minute; more on a loaded machine
pytestmark = [pytest.mark.realhost, pytest.mark.timeout(900)]

TIMER = SYNC_UNIT.removesuffix(".service") + ".timer"
FAST_TIMER = "[Timer]\nOnCalendar=\nOnActiveSec=1s\nOnUnitInactiveSec=2s\nAccuracySec=1ms\n"
# (systemd's Result and ActiveState for the code, the sync check's state)
EXPECTED = {
    0: ("success", "inactive", "OK"),
    23: ("exit-code", "failed", "CRITICAL"),
    24: ("exit-code", "failed", "OK"),
}


@pytest.fixture(scope="module")
def standby(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNode]:  # noqa: F811
    own = {"standby": {"intervals": {"sync": 2}, "timeouts": {"sync": 2}}}
    with booted(tmp_path_factory.mktemp("realsync"), deb, ("standby",), **own) as (node,):
        installed.configure(node.host, node.config)
        installed.wait_for_readings(node.host, ("sync",))
        yield node


def exits_with(node: RealNode, code: int) -> None:
    """The sync service's command replaced by a drop-in (a test's, never puppet's file)."""
    node.host.write(
        f"/etc/systemd/system/{SYNC_UNIT}.d/exit.conf",
        f"[Service]\nExecStart=\nExecStart=/bin/sh -c 'exit {code}'\n",
    )
    node.host.write(f"/etc/systemd/system/{TIMER}.d/fast.conf", FAST_TIMER)
    node.host.systemctl("daemon-reload")
    node.host.systemctl("restart", TIMER)


def await_run(node: RealNode, code: int, after: float) -> dict[str, str]:
    """systemd's record of a run that exited `code` after `after`: started by the timer,
    never by the test."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        shown = node.host.show(
            SYNC_UNIT, "Result", "ActiveState", "ExecMainStatus", "ExecMainExitTimestamp"
        )
        exited = node.host.run(
            ["systemctl", "show", SYNC_UNIT, "--timestamp=unix", "-P", "ExecMainExitTimestamp"]
        ).stdout.strip()
        if (
            shown["ExecMainStatus"] == str(code)
            and exited.startswith("@")
            and float(exited[1:]) > after
            and shown["ActiveState"] != "activating"
        ):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"no run exiting {code} after {after}: {shown}")


def sync_reading(node: RealNode, code: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sync = installed.probes_of(node.status())["sync"]
        if sync["value"] and sync["value"]["last_exit_code"] == code:
            return dict(sync)
        time.sleep(0.2)
    raise AssertionError(f"the sync probe never read exit {code}: {sync}")


@pytest.mark.parametrize("code", [0, 23, 24])
def test_an_exit_code_as_systemd_records_it(standby: RealNode, code: int) -> None:
    exits_with(standby, code)
    inside_now = float(standby.host.run(["date", "+%s.%N"]).stdout)
    shown = await_run(standby, code, inside_now)
    result, active_state, check_state = EXPECTED[code]
    assert (shown["Result"], shown["ActiveState"]) == (result, active_state)
    sync = sync_reading(standby, code)
    assert sync["state"] == check_state, sync["reasons"]
    metrics = installed.api_status(standby.host, "/metrics")
    assert value(metrics, "registry_monitor_sync_last_exit_code") == code
    assert value(metrics, "registry_monitor_sync_timer_active") == 1
    assert value(metrics, "registry_monitor_sync_unit_failed") == (code != 0)
    if code == 24:
        assert any("systemd records" in line for line in sync["reasons"]), sync["reasons"]
