"""The sync probe: systemd's view of the rsync oneshot and its timer, and the state it keeps.

The sync_unit fixture's fake systemd booted 60 s ago: runs since then are shown by
systemd, older ones only by the state file, as on a freshly rebooted standby."""

import json
import time
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
from testbed.systemd import BeforeBoot, FakeSystemd, ago
from tests.support.metrics import value
from tests.support.reasons import json_reason
from tests.support.sync import seed_run

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
    # every run since the fake systemd booted 60 s ago; whole seconds as systemd shows them
    state = tmp_path / "state"
    t1 = ago(55)
    sync_unit.record(None, t1)
    s = read(state)
    assert (s.running, s.active_state, s.sub_state, s.last_exit_code) == (
        True,
        "activating",
        "start",
        None,
    )
    assert s.last_run_started == t1

    sync_unit.record(23, t1, t1 + 3)
    s = read(state)
    assert (s.running, s.active_state, s.result) == (False, "failed", "exit-code")
    assert (s.last_exit_code, s.last_exit_meaning, s.last_success) == (
        23,
        "partial transfer due to error",
        None,
    )
    assert s.last_run_succeeded is False
    assert s.last_duration_seconds == 3

    t2 = ago(45)
    sync_unit.record(0, t2, t2 + 5)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning, s.active_state) == (0, "success", "inactive")
    assert (s.last_success, s.last_success_started, s.last_duration_seconds) == (t2 + 5, t2, 5)

    t3 = ago(30)
    sync_unit.record(24, t3, t3 + 7)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning, s.last_run_succeeded) == (
        24,
        "files vanished (expected race with pushes)",
        True,
    )
    assert (s.last_success, s.last_success_started) == (t3 + 7, t3)

    # while the next run goes, systemd has cleared the exit figures: the last ones stay
    t4 = ago(15)
    sync_unit.record(None, t4)
    s = read(state)
    assert (s.running, s.last_exit_code, s.last_run_started) == (True, 24, t4)
    assert (s.last_success, s.last_success_started) == (t3 + 7, t3)

    sync_unit.record(10, t4, t4 + 2)
    s = read(state)
    assert (s.last_exit_code, s.last_exit_meaning) == (
        10,
        "error in socket I/O (active unreachable?)",
    )
    assert (s.last_success, s.last_success_started, s.last_duration_seconds) == (t3 + 7, t3, 2)


def test_a_run_in_the_same_second_as_the_kept_one_is_not_new(
    sync_unit: SyncUnit, tmp_path: Path
) -> None:
    """The timestamps are whole seconds and stable: no jitter margin, nothing recorded twice."""
    state = tmp_path / "state"
    t = ago(20)
    sync_unit.record(0, t, t + 1)
    read(state)
    saved = (state / "sync-state.json").read_bytes()
    mtime = (state / "sync-state.json").stat().st_mtime_ns
    for _ in range(3):
        assert read(state).last_success == t + 1
    assert (state / "sync-state.json").read_bytes() == saved
    assert (state / "sync-state.json").stat().st_mtime_ns == mtime  # not rewritten
    # a quick run starting the very next second is a new run: no margin hides it
    sync_unit.record(23, t + 1, t + 2)
    s = read(state)
    assert (s.last_run_started, s.last_exit_at, s.last_exit_code) == (t + 1, t + 2, 23)


def test_runs_before_boot_come_from_the_state_file(
    systemd: FakeSystemd, sync_unit: SyncUnit, tmp_path: Path
) -> None:
    """On a host booted 60 s ago systemd knows no run; the state file kept the last ones."""
    state = tmp_path / "state"
    old = ago(40 * 60)
    with pytest.raises(BeforeBoot):
        sync_unit.record(0, old, old + 9)  # no systemd can show it
    seed_run(state, old, old + 9, exit_code=24)
    s = read(state)
    assert (s.running, s.last_exit_code, s.last_success, s.last_success_started) == (
        False,
        24,
        old + 9,
        old,
    )
    assert (s.last_run_started, s.last_duration_seconds, s.timer_period_seconds) == (
        old,
        9,
        600,
    )
    # the first run after boot replaces them
    t = ago(10)
    sync_unit.record(0, t, t + 2)
    s = read(state)
    assert (s.last_exit_code, s.last_success, s.last_run_started) == (0, t + 2, t)


def test_duration_against_the_timer_period(systemd: FakeSystemd, tmp_path: Path) -> None:
    systemd.boot = ago(3600)
    unit = SyncUnit(systemd, "rsync://127.0.0.1:1/x/", tmp_path / "data", period="5min")
    t = ago(1000)
    unit.record(0, t, t + 301)
    s = read(tmp_path / "state")
    assert (s.last_duration_seconds, s.timer_period_seconds, s.outlasts_period) == (
        301,
        300,
        True,
    )
    unit.record(0, t + 400, t + 700)
    s = read(tmp_path / "state")
    assert (s.last_duration_seconds, s.outlasts_period) == (300, False)


def test_on_the_active_a_scheduled_timer_is_the_fault(sync_unit: SyncUnit, tmp_path: Path) -> None:
    r = run_probe(SyncProbe(Config(role="active", state_dir=tmp_path)), Deadline(5))
    assert isinstance(r.value, SyncStatus)
    assert (r.value.role, r.value.timer_active, r.value.runs_on_active) == ("active", True, True)
    sync_unit.set_timer(active=False)
    r = run_probe(SyncProbe(Config(role="active", state_dir=tmp_path)), Deadline(5))
    assert isinstance(r.value, SyncStatus)
    assert r.value.runs_on_active is False
    sync_unit.record(None, ago(5))
    r = run_probe(SyncProbe(Config(role="active", state_dir=tmp_path)), Deadline(5))
    assert isinstance(r.value, SyncStatus)
    assert (r.value.running, r.value.runs_on_active) == (True, True)


def test_killed_run_is_reported_as_a_signal(
    systemd: FakeSystemd, sync_unit: SyncUnit, tmp_path: Path
) -> None:
    start = ago(30)
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


def test_rsyncs_max_delete_exit_is_a_failed_run_named(
    systemd: FakeSystemd, sync_unit: SyncUnit, tmp_path: Path
) -> None:
    start = ago(30)
    sync_unit.record(25, start, start + 2)
    s = read(tmp_path / "state")
    assert (s.last_exit_code, s.last_exit_meaning, s.last_run_succeeded) == (
        25,
        "--max-delete limit stopped deletions (the source shrank?)",
        False,
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
        f"({json_reason('{not json')}); "  # json's reason
        "starting afresh"
    )
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(state)
    assert s.last_success == t + 1
    assert s.state_note is None  # rewritten
    saved = json.loads((state / "sync-state.json").read_text())
    assert saved["unit"] == SYNC_UNIT and saved["last_exit_code"] == 0


def test_unwritable_state_dir_is_reported(sync_unit: SyncUnit, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    s = read(blocker / "state")
    assert s.last_success == t + 1
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
    t = ago(50)
    sync_unit.record(24, t, t + 3)
    first = start_exporter(config, wait_for=("sync",), name="first")
    text = first.metrics_text()
    assert value(text, "registry_monitor_sync_last_success_timestamp_seconds") == t + 3
    assert value(text, "registry_monitor_sync_last_exit_code") == 24
    assert value(text, "registry_monitor_sync_running") == 0
    assert value(text, "registry_monitor_sync_timer_active") == 1
    assert value(text, "registry_monitor_sync_last_run_timestamp_seconds") == t
    assert value(text, "registry_monitor_sync_last_duration_seconds") == 3
    assert value(text, "registry_monitor_sync_timer_period_seconds") == 600
    first.stop()

    # systemd restarted too (a reboot): it no longer knows any run
    systemd.set_unit(SYNC_UNIT, "inactive", sub_state="dead")
    second = start_exporter(config, wait_for=("sync",), name="second")
    text = second.metrics_text()
    assert value(text, "registry_monitor_sync_last_success_timestamp_seconds") == t + 3
    assert value(text, "registry_monitor_sync_last_exit_code") == 24
    assert value(text, "registry_monitor_probe_success", probe="sync") == 1


def test_a_fifo_as_the_state_file_is_a_note_then_replaced(
    sync_unit: SyncUnit, tmp_path: Path
) -> None:
    import os

    from registry_monitor.probes.reading import ProbeRunner

    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "sync-state.json")
    t = ago(30)
    sync_unit.record(0, t, t + 1)
    probe = SyncProbe(Config(role="standby", state_dir=state))
    r = ProbeRunner(probe, timeout=5).run()  # a blocked open() would time out
    assert r.ok, r.error
    assert r.value.last_success == t + 1
    assert r.value.state_note is None  # the FIFO was replaced by the saved state
    assert json.loads((state / "sync-state.json").read_text())["last_exit_code"] == 0


def test_a_guard_refusal_is_critical_until_a_run_succeeds(
    sync_unit: SyncUnit, tmp_path: Path
) -> None:
    from registry_monitor.judging.verdicts.sync import judge
    from registry_monitor.sync_guard.record import record_run

    state = tmp_path / "state"
    first = ago(50)
    sync_unit.record(0, first, first + 2)
    refused_at = ago(30)
    assert (
        record_run(state, ("source_shrunk",), "sync REFUSED: source_shrunk: ...", None, refused_at)
        is None
    )
    r = run_probe(SyncProbe(Config(role="standby", state_dir=state)), Deadline(5))
    verdict = judge(r, {})
    assert verdict.state.name == "CRITICAL"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(refused_at))
    assert verdict.summary == (
        f"the sync guard refused the run at {when}: sync REFUSED: source_shrunk: ..."
    )
    # let through once: the run succeeds, the refusal stays named, as history
    sync_unit.record(0, ago(10), ago(8))
    r = run_probe(SyncProbe(Config(role="standby", state_dir=state)), Deadline(5))
    verdict = judge(r, {})
    assert verdict.state.name == "OK"
    assert (
        f"the sync guard refused the run at {when}: sync REFUSED: source_shrunk: ... "
        "(a run succeeded since)"
    ) in [i.text for i in verdict.items]
