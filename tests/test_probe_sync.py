"""The sync probe: systemd's view of the rsync oneshot and its timer, and the state it keeps."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.metrics.sync import render as render_sync
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.sync import SyncProbe, SyncStatus
from testbed.exporter import Exporter
from testbed.rsync import SYNC_UNIT, SyncUnit
from testbed.systemd import FakeSystemd
from tests.support.metrics import value
from tests.support.pair import ago

TIMER = "rsync-docker-registry-sync.timer"


def read(state_dir: Path) -> SyncStatus:
    r = run_probe(SyncProbe(Config(role="standby", state_dir=state_dir)), Deadline(5))
    assert r.ok, r.error
    assert isinstance(r.value, SyncStatus)
    return r.value


def test_never_synced(sync_unit: SyncUnit, tmp_path: Path) -> None:
    s = read(tmp_path / "state")
    assert (s.running, s.timer_active, s.last_exit_code, s.last_success, s.last_run_started) == (
        False,
        True,
        None,
        None,
        None,
    )
    assert not (tmp_path / "state" / "sync-state.json").exists()


def test_failed_then_succeeded_then_vanished_files(sync_unit: SyncUnit, tmp_path: Path) -> None:
    state = tmp_path / "state"
    t1 = ago(300)
    sync_unit.record(None, t1)
    s = read(state)
    assert (s.running, s.active_state, s.sub_state, s.last_exit_code) == (
        True,
        "activating",
        "start",
        None,
    )
    assert s.last_run_started == pytest.approx(t1, abs=0.01)

    sync_unit.record(23, t1, t1 + 10)
    s = read(state)
    assert (s.running, s.active_state, s.result) == (False, "failed", "exit-code")
    assert (s.last_exit_code, s.last_exit_meaning, s.last_success) == (
        23,
        "partial transfer due to error",
        None,
    )
    assert s.last_run_succeeded is False

    t2 = ago(200)
    sync_unit.record(0, t2, t2 + 5)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning, s.active_state) == (0, "success", "inactive")
    assert s.last_success == pytest.approx(t2 + 5, abs=0.01)

    t3 = ago(100)
    sync_unit.record(24, t3, t3 + 7)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning, s.last_run_succeeded) == (
        24,
        "files vanished (expected race with pushes)",
        True,
    )
    assert s.last_success == pytest.approx(t3 + 7, abs=0.01)

    # while the next run goes, systemd has cleared the exit figures: the last ones stay
    t4 = ago(20)
    sync_unit.record(None, t4)
    s = read(state)
    assert (s.running, s.last_exit_code) == (True, 24)
    assert s.last_run_started == pytest.approx(t4, abs=0.01)
    assert s.last_success == pytest.approx(t3 + 7, abs=0.01)

    sync_unit.record(10, t4, t4 + 2)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning) == (
        10,
        "error in socket I/O (active unreachable?)",
    )
    assert s.last_success == pytest.approx(t3 + 7, abs=0.01)


def test_killed_run_is_reported_as_a_signal(
    systemd: FakeSystemd, sync_unit: SyncUnit, tmp_path: Path
) -> None:
    start = ago(60)
    systemd.set_unit(
        SYNC_UNIT,
        "failed",
        extra={"Result": "signal", "ExecMainCode": 2, "ExecMainStatus": 9},
        unix={"ExecMainStartTimestamp": start, "ExecMainExitTimestamp": start + 1},
    )
    s = read(tmp_path / "state")
    assert (s.last_exit_code, s.last_exit_meaning, s.last_success) == (
        137,
        "killed by signal 9",
        None,
    )


def test_stopped_timer_and_missing_unit(systemd: FakeSystemd, tmp_path: Path) -> None:
    systemd.set_unit(TIMER, "inactive")
    s = read(tmp_path / "state")
    assert (s.load_state, s.timer_active, s.timer_state, s.running) == (
        "not-found",
        False,
        "inactive",
        False,
    )
    assert s.summary() == f"{SYNC_UNIT} not-found"


def test_garbled_state_file_is_not_fatal(sync_unit: SyncUnit, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "sync-state.json").write_text("{not json")
    s = read(state)
    assert s.last_success is None
    assert s.state_note == (
        f"state file {state / 'sync-state.json'} is not usable "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
        "starting afresh"
    )
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(state)
    assert s.last_success == pytest.approx(t + 1, abs=0.01)
    assert s.state_note is None  # rewritten
    saved = json.loads((state / "sync-state.json").read_text())
    assert saved["unit"] == SYNC_UNIT and saved["last_exit_code"] == 0


def test_unwritable_state_dir_is_reported(sync_unit: SyncUnit, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(blocker / "state")
    assert s.last_success == pytest.approx(t + 1, abs=0.01)
    assert (
        s.state_note
        == f"cannot save state file {blocker / 'state' / 'sync-state.json'}: Not a directory"
    )


def test_a_state_dir_that_is_a_file_says_so(sync_unit: SyncUnit, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("")
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(state)
    assert s.state_note == (
        f"cannot save state file {state / 'sync-state.json'}: state_dir {state} is not a directory"
    )
    families = {f.name: f for f in render_sync(Reading("sync", t, 0.1, s))}
    assert [x.value for x in families["registry_monitor_sync_state_saved"].samples] == [0.0]


def test_a_saved_state_is_exported_as_saved(sync_unit: SyncUnit, tmp_path: Path) -> None:
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(tmp_path / "state")
    families = {f.name: f for f in render_sync(Reading("sync", t, 0.1, s))}
    assert [x.value for x in families["registry_monitor_sync_state_saved"].samples] == [1.0]


def test_last_success_survives_an_exporter_restart(
    systemd: FakeSystemd,
    sync_unit: SyncUnit,
    tmp_path: Path,
    start_exporter: Callable[..., Exporter],
) -> None:
    config = {
        "node": "registry-b",
        "role": "standby",
        "data_dir": str(tmp_path / "data"),
        "state_dir": str(tmp_path / "state"),
        "cert_file": None,
        "intervals": {"sync": 0.5},
        "timeouts": {"sync": 0.5},
    }
    (tmp_path / "data").mkdir()
    t = ago(120)
    sync_unit.record(24, t, t + 3)
    first = start_exporter(config, wait_for=("sync",), name="first")
    text = first.metrics_text()
    assert value(text, "registry_monitor_sync_last_success_timestamp_seconds") == pytest.approx(
        t + 3, abs=0.01
    )
    assert value(text, "registry_monitor_sync_last_exit_code") == 24
    assert value(text, "registry_monitor_sync_running") == 0
    assert value(text, "registry_monitor_sync_timer_active") == 1
    assert value(text, "registry_monitor_sync_last_run_timestamp_seconds") == pytest.approx(
        t, abs=0.01
    )
    first.stop()

    # systemd restarted too (a reboot): it no longer knows any run
    systemd.set_unit(SYNC_UNIT, "inactive", sub_state="dead")
    second = start_exporter(config, wait_for=("sync",), name="second")
    text = second.metrics_text()
    assert value(text, "registry_monitor_sync_last_success_timestamp_seconds") == pytest.approx(
        t + 3, abs=0.01
    )
    assert value(text, "registry_monitor_sync_last_exit_code") == 24
    assert value(text, "registry_monitor_probe_success", probe="sync") == 1
