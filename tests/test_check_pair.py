"""check_registry sync and standby on a real pair: two registries, real rsync, the active's exporter."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.judging.verdict import Options
from registry_monitor.judging.verdicts import sync as verdict
from registry_monitor.probes.reading import Reading
from registry_monitor.probes.sync import SyncProbe
from testbed.exporter import Exporter
from testbed.rsync import SYNC_UNIT, SyncUnit
from testbed.systemd import FakeSystemd, ago
from testbed.waiting import closed_port
from tests.support.check import run_check, write_config
from tests.support.pair import Pair
from tests.support.sync import seed_run

Start = Callable[..., Exporter]
TIMER = "rsync-docker-registry-sync.timer"


def when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def standby_config(tmp_path: Path, **extra: Any) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "role": "standby",
            "data_dir": str(tmp_path),
            "state_dir": str(tmp_path / "state"),
            **extra,
        },
    )


def test_never_synced_is_unknown(sync_unit: SyncUnit, tmp_path: Path) -> None:
    run = run_check(standby_config(tmp_path), "sync", "-v")
    assert (run.exit_code, run.text) == (
        3,
        f"no finished run of {SYNC_UNIT} known yet (none since boot, none recorded in the state file)",
    )
    assert run.long[0] == f"[OK] {TIMER} active"
    assert run.perf("timer_active").value == 1
    assert "last_success_age" not in run.output.perfdata


def age_bounds(before: float, after: float, since: float) -> tuple[float, float]:
    """The age a check run between `before` and `after` may report for `since`: judged at
    the reading's own start, rounded to the second."""
    return before - since - 1, after - since + 1


@pytest.mark.parametrize(
    ("minutes", "exit_code", "state"),
    [(5, 0, "OK"), (40, 0, "WARNING"), (120, 24, "CRITICAL")],
)
def test_age_of_the_last_success_is_judged(
    sync_unit: SyncUnit, tmp_path: Path, minutes: int, exit_code: int, state: str
) -> None:
    # systemd booted 60 s ago and knows no run: the last one is in the state file
    end = ago(60 * minutes)
    seed_run(tmp_path / "state", end - 5, end, exit_code)
    before = time.time()
    run = run_check(standby_config(tmp_path), "sync", "-v")
    low, high = age_bounds(before, time.time(), end)
    age = run.perf("last_success_age")
    assert (run.state, age.uom, age.warn, age.crit) == (state, "s", "1800", "3600")
    assert low <= age.value <= high
    explain = {"OK": "", "WARNING": " (warning > 1800)", "CRITICAL": " (critical > 3600)"}[state]
    line = f"last successful sync {age.value:.0f}s ago ({when(end)}){explain}"
    assert f"[{state}] {line}" in run.long
    if state == "OK":
        exit_text = f"{exit_code} (success)"
        assert (
            run.text
            == f"last successful sync {age.value:.0f}s ago, inactive, last exit {exit_text}"
        )
    else:
        assert run.text == line
    assert run.perf("last_duration").value == 5


def test_age_is_taken_at_the_reading_not_at_judging(sync_unit: SyncUnit, tmp_path: Path) -> None:
    end = ago(100)
    seed_run(tmp_path / "state", end - 5, end)
    config = Config(role="standby", state_dir=tmp_path / "state")
    value = SyncProbe(config)(Deadline(5))
    reading = Reading("sync", end + 1500.0, 0.1, value)  # taken 1500 s after the run
    v = verdict.judge(reading, verdict.thresholds(config, Options()))
    assert (v.state.name, v.summary) == (
        "OK",
        "last successful sync 1500s ago, inactive, last exit 0 (success)",
    )
    later = Reading("sync", end + 1900.0, 0.1, value)
    assert verdict.judge(later, verdict.thresholds(config, Options())).state.name == "WARNING"


def test_thresholds_from_the_command_line(sync_unit: SyncUnit, tmp_path: Path) -> None:
    end = ago(300)
    seed_run(tmp_path / "state", end - 5, end)
    run = run_check(standby_config(tmp_path), "sync", "-w", "60", "-c", "600")
    assert run.state == "WARNING"
    assert (run.perf("last_success_age").warn, run.perf("last_success_age").crit) == ("60", "600")


def test_a_failed_run_is_critical(sync_unit: SyncUnit, tmp_path: Path) -> None:
    good = ago(600)
    seed_run(tmp_path / "state", good - 5, good)  # the success the state file kept
    bad = ago(30)
    sync_unit.record(10, bad - 5, bad)
    before = time.time()
    run = run_check(standby_config(tmp_path), "sync", "-v")
    assert (run.exit_code, run.text) == (
        2,
        f"last run of {SYNC_UNIT} exited 10 (error in socket I/O (active unreachable?)) "
        f"at {when(bad)}",
    )
    assert run.perf("last_exit_code").value == 10
    low, high = age_bounds(before, time.time(), good)
    assert low <= run.perf("last_success_age").value <= high


def test_a_run_longer_than_the_period_warns(systemd: FakeSystemd, tmp_path: Path) -> None:
    unit = SyncUnit(systemd, "rsync://127.0.0.1:1/x/", tmp_path / "data", period="5min")
    seed_run(tmp_path / "state", ago(1000), ago(1000) + 420)
    run = run_check(standby_config(tmp_path), "sync", "-v")
    assert (run.exit_code, run.text) == (
        1,
        f"last run of {SYNC_UNIT} took 420s, longer than {unit.timer} period (300s): "
        "every later run starts late",
    )
    took = run.perf("last_duration")
    assert (took.value, took.uom, took.max) == (420, "s", 300)


def test_a_stopped_timer_is_critical(sync_unit: SyncUnit, tmp_path: Path) -> None:
    end = ago(30)
    sync_unit.record(0, end - 5, end)
    sync_unit.set_timer(active=False)
    run = run_check(standby_config(tmp_path), "sync")
    assert (run.exit_code, run.text) == (2, f"{TIMER} inactive: no sync will be started")
    assert (run.perf("timer_active").value, run.perf("timer_active").crit) == (0, "1:")


def test_a_missing_unit_is_critical(systemd: FakeSystemd, tmp_path: Path) -> None:
    run = run_check(standby_config(tmp_path), "sync")
    assert (run.exit_code, run.text) == (2, f"{SYNC_UNIT} not-found: no sync can run")


def active_config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "c.yaml", {"data_dir": str(tmp_path), "state_dir": str(tmp_path / "state")}
    )


def test_on_the_active_a_missing_unit_is_fine(systemd: FakeSystemd, tmp_path: Path) -> None:
    run = run_check(active_config(tmp_path), "sync", "-v")
    assert (run.exit_code, run.text) == (0, f"{SYNC_UNIT} not installed on the active")


def test_on_the_active_a_scheduled_timer_is_critical(sync_unit: SyncUnit, tmp_path: Path) -> None:
    run = run_check(active_config(tmp_path), "sync")
    assert (run.exit_code, run.text) == (
        2,
        f"{TIMER} active on the active: {SYNC_UNIT} will pull from the other node and erase "
        f"this node's new pushes (systemctl disable --now {TIMER})",
    )
    assert (run.perf("timer_active").value, run.perf("timer_active").crit) == (1, "0")

    sync_unit.set_timer(active=False)
    run = run_check(active_config(tmp_path), "sync")
    assert (run.exit_code, run.text) == (
        0,
        f"{SYNC_UNIT} stopped and {TIMER} inactive on the active",
    )

    start = ago(20)
    sync_unit.record(None, start)
    run = run_check(active_config(tmp_path), "sync")
    assert (run.exit_code, run.text) == (
        2,
        f"{SYNC_UNIT} running on the active since {when(start)}: it pulls from the other "
        "node and erases this node's new pushes",
    )
    assert run.perf("running").value == 1


def active_exporter(pair: Pair, start: Start) -> Exporter:
    exporter = start(pair.config("active", pair.active), wait_for=("storage",), name="active")
    exporter.wait_reading("storage", newer_than=time.time())  # a scan that saw every push
    return exporter


def standby_of(pair: Pair, active: Exporter, tmp_path: Path) -> Path:
    config = pair.config("standby", pair.standby, active_exporter_url=active.url)
    return write_config(tmp_path / "standby.yaml", config)


def test_standby_in_step_is_ok(pair: Pair, start_exporter: Start, tmp_path: Path) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.synced()
    active = active_exporter(pair, start_exporter)
    run = run_check(standby_of(pair, active, tmp_path), "standby", "-v")
    assert (run.exit_code, run.text) == (0, "in step with registry-active, lag 0s")
    assert run.long[0] == "[OK] in step with registry-active: every tag of the active is here"
    lag = run.perf("lag")
    assert (lag.value, lag.uom, lag.warn, lag.crit) == (0, "s", "1800", "3600")
    assert [run.perf(k).value for k in ("missing_tags", "mismatched_tags", "missing_blobs")] == [
        0,
        0,
        0,
    ]


def test_standby_behind_is_judged_by_its_lag(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.synced()
    pair.pusher.push_image("toolforge/node18", "latest")
    # two minutes ago: a lag of whole seconds must not round to 0 on a fast machine
    pushed_at = pair.backdate_tag("toolforge/node18", "latest", 120)
    active = active_exporter(pair, start_exporter)
    config = standby_of(pair, active, tmp_path)

    run = run_check(config, "standby", "-v")  # within the config's 30 minutes
    assert run.exit_code == 0
    lag = run.perf("lag").value
    assert lag == pytest.approx(time.time() - pushed_at, abs=5)
    assert run.text == f"lag {lag:.0f}s behind registry-active, 1 tags missing"
    assert run.long[:3] == [
        f"[OK] lag {lag:.0f}s behind registry-active: 1 tags missing, 0 moved, "
        "1 repositories missing",
        "- oldest: toolforge/node18:latest",
        "- toolforge/node18:latest missing",
    ]
    assert (run.perf("missing_tags").value, run.perf("missing_repositories").value) == (1, 1)

    run = run_check(config, "standby", "-w", "0", "-c", "3600")
    assert run.exit_code == 1
    assert re.fullmatch(
        r"lag (\d+)s behind registry-active \(warning > 0\): 1 tags missing, 0 moved, "
        r"1 repositories missing",
        run.text,
    ), run.text

    pair.synced()
    run = run_check(config, "standby")
    assert (run.exit_code, run.text) == (0, "in step with registry-active, lag 0s")


def test_unreachable_active_is_unknown(pair: Pair, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"  # this process's own: nothing listens
    config = write_config(
        tmp_path / "standby.yaml", pair.config("standby", pair.standby, active_exporter_url=url)
    )
    run = run_check(config, "standby")
    assert run.exit_code == 3
    assert run.text.startswith(f"active exporter {url}/api/inventory unreachable: ")
