"""rsync's exit 24 as puppet's unit leaves it: no SuccessExitStatus
(modules/rsync/manifests/quickdatacopy.pp), so systemd records the run failed while the
sync probe counts it a success. Both are exported; the check names the disagreement."""

from __future__ import annotations

from pathlib import Path

from exporter.metrics.sync import render
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options
from registry_monitor.judging.verdicts import sync as verdict
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.sync import SyncProbe, SyncStatus
from testbed.rsync import SYNC_UNIT, SyncUnit
from testbed.systemd import ago

NOTE = verdict.SYSTEMD_DISAGREES.format(unit=SYNC_UNIT)


def reading(state_dir: Path) -> Reading[SyncStatus]:
    r = run_probe(SyncProbe(Config(role="standby", state_dir=state_dir)), Deadline(5))
    assert r.ok, r.error
    return r


def unit_failed(r: Reading[SyncStatus]) -> float:
    families = {f.name: f for f in render(r)}
    return families["registry_monitor_sync_unit_failed"].samples[0].value


def test_exit_24_is_a_success_here_and_a_failed_unit_in_systemd(
    sync_unit: SyncUnit, tmp_path: Path
) -> None:
    t = ago(30)
    sync_unit.record(24, t, t + 4)
    r = reading(tmp_path)
    judged = verdict.judge(r, verdict.thresholds(Config(role="standby"), Options()))
    assert judged.state == State.OK
    assert (State.OK, f"note: {NOTE}") in [(i.state, i.text) for i in judged.items]
    assert unit_failed(r) == 1.0


def test_exit_0_leaves_no_note_and_no_failed_unit(sync_unit: SyncUnit, tmp_path: Path) -> None:
    t = ago(30)
    sync_unit.record(0, t, t + 4)
    r = reading(tmp_path)
    judged = verdict.judge(r, verdict.thresholds(Config(role="standby"), Options()))
    assert judged.state == State.OK
    assert not [i for i in judged.items if i.text.startswith("note: systemd records")]
    assert unit_failed(r) == 0.0


def test_exit_23_is_critical_and_a_failed_unit(sync_unit: SyncUnit, tmp_path: Path) -> None:
    t = ago(30)
    sync_unit.record(23, t, t + 4)
    r = reading(tmp_path)
    judged = verdict.judge(r, verdict.thresholds(Config(role="standby"), Options()))
    assert judged.state == State.CRITICAL
    assert unit_failed(r) == 1.0
