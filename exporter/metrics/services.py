"""services reading -> service_* families (one-hot state as node_exporter's systemd collector)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.metrics.families import counter, flag, gauge
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.service_process import FIGURES, GONE, ProcessStatus
from registry_monitor.probes.services import ACTIVE_STATES, LOAD_STATES, ServicesStatus


def render(reading: Measured[ServicesStatus]) -> Iterator[Metric]:
    status = reading.value
    active = gauge("service_active", "1 if the systemd unit is active.", ["unit"])
    state = gauge(
        "service_state",
        "systemd ActiveState of the unit, one series per state, 1 for the current one.",
        ["unit", "state"],
    )
    load = gauge(
        "service_load_state",
        "systemd LoadState of the unit, one series per state (not-found: no such unit).",
        ["unit", "state"],
    )
    restarts = counter(
        "service_restarts",
        "Automatic restarts systemd made (NRestarts). Units without Restart= "
        "(Debian's docker-registry) stay 0: watch service_start_time_seconds changes.",
        ["unit"],
    )
    started = gauge(
        "service_start_time_seconds",
        "Unix time the unit last became active; a change means a (re)start.",
        ["unit"],
    )
    process = _process_families()
    readable = gauge(
        "service_process_readable",
        "1 if the exporter may read this figure of the unit's main process; 0: access denied "
        "(open_fds of another user's process needs CAP_DAC_READ_SEARCH: docs/metrics.md).",
        ["unit", "figure"],
    )
    for unit in status.units:
        if unit.process is not None:
            _add_process(process, unit.unit, unit.process)
            if unit.process.problem != GONE:
                for figure in FIGURES:
                    readable.add_metric(
                        [unit.unit, figure], flag(figure not in unit.process.unreadable)
                    )
        active.add_metric([unit.unit], flag(unit.active))
        states = (
            ACTIVE_STATES
            if unit.active_state in ACTIVE_STATES
            else (*ACTIVE_STATES, unit.active_state)
        )
        for name in states:
            state.add_metric([unit.unit, name], flag(name == unit.active_state))
        loads = LOAD_STATES if unit.load_state in LOAD_STATES else (*LOAD_STATES, unit.load_state)
        for name in loads:
            load.add_metric([unit.unit, name], flag(name == unit.load_state))
        if unit.restarts is not None:
            restarts.add_metric([unit.unit], float(unit.restarts))
        if unit.started_at is not None:
            started.add_metric([unit.unit], unit.started_at)
    yield from (active, state, load, restarts, started, *process.values(), readable)


def _process_families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    """The main process's figures, as node_exporter's process collector names them."""
    return {
        "resident_memory_bytes": gauge(
            "service_process_resident_memory_bytes",
            "Resident memory of the unit's main process.",
            ["unit"],
        ),
        "open_fds": gauge(
            "service_process_open_fds",
            "Open file descriptors of the unit's main process.",
            ["unit"],
        ),
        "max_fds": gauge(
            "service_process_max_fds",
            "The main process's soft limit on open file descriptors (RLIMIT_NOFILE).",
            ["unit"],
        ),
        "threads": gauge(
            "service_process_threads", "Threads of the unit's main process.", ["unit"]
        ),
        "cpu_seconds": counter(
            "service_process_cpu_seconds",
            "User and system CPU time of the unit's main process (since it started).",
            ["unit"],
        ),
    }


def _add_process(
    families: dict[str, GaugeMetricFamily | CounterMetricFamily], unit: str, process: ProcessStatus
) -> None:
    """A figure the exporter may not read (another user's process) has no series."""
    for name, family in families.items():
        value = getattr(process, name)
        if value is not None:
            family.add_metric([unit], float(value))
