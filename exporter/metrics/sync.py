"""sync reading -> sync_* families (both roles: on the active, a running sync is the fault)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import counter, flag, single_gauge
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.sync import SyncStatus
from registry_monitor.sync_guard.decision import REASONS


def render(reading: Measured[SyncStatus]) -> Iterator[Metric]:
    s = reading.value
    if s.last_run_started is not None:
        yield single_gauge(
            "sync_last_run_timestamp_seconds",
            "Unix time the last (or current) sync run started.",
            s.last_run_started,
        )
    yield single_gauge(
        "sync_last_success_timestamp_seconds",
        "Unix time the last sync run with exit 0 or 24 (files vanished: the expected race "
        "with pushes) finished; 0 = never. Kept in state_dir across exporter restarts.",
        s.last_success or 0.0,
    )
    if s.last_exit_code is not None:
        yield single_gauge(
            "sync_last_exit_code",
            "rsync's exit status of the last finished run (24: files vanished, expected; "
            "128+N: killed by signal N).",
            float(s.last_exit_code),
        )
    if s.last_duration_seconds is not None:
        yield single_gauge(
            "sync_last_duration_seconds",
            "Seconds the last finished sync run took (whole seconds, as systemd shows them).",
            s.last_duration_seconds,
        )
    if s.timer_period_seconds is not None:
        yield single_gauge(
            "sync_timer_period_seconds",
            "Seconds between two sync runs, from the timer's OnUnitActiveSec= or OnCalendar=; "
            "a run that lasts longer delays every later one.",
            s.timer_period_seconds,
        )
    yield single_gauge(
        "sync_running", "1 while a sync run is in progress (unit activating).", flag(s.running)
    )
    yield single_gauge(
        "sync_timer_active",
        "1 if the sync unit's .timer is active (scheduled).",
        flag(s.timer_active),
    )
    yield single_gauge(
        "sync_state_saved",
        "1 if the sync history could be read from and kept in state_dir; 0 if not (it is "
        "then lost on an exporter restart: the reason is in /api/status).",
        flag(s.state_note is None),
    )
    yield single_gauge(
        "sync_unit_failed",
        "1 if systemd records the sync unit as failed (what a generic failed-unit alert sees): "
        "without SuccessExitStatus=24 a run exiting 24 is failed here but a success in "
        "sync_last_success_timestamp_seconds, which the alerts use.",
        flag(s.active_state == "failed"),
    )
    if s.guard is not None:
        refusals = counter(
            "sync_guard_refusals",
            "Sync runs the sync guard (check_registry sync-guard, the unit's ExecStartPre) "
            "refused, by reason; kept by the guard in state_dir.",
            ["reason"],
        )
        for reason in REASONS:
            refusals.add_metric([reason], float(s.guard.refusals.get(reason, 0)))
        yield refusals
        yield single_gauge(
            "sync_guard_last_refusal_timestamp_seconds",
            "Unix time of the sync guard's last refusal; 0 = never. Later than "
            "sync_last_success_timestamp_seconds: syncs are stopped by the guard.",
            s.guard.last_refusal_at or 0.0,
        )
