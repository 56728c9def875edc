"""services: every watched unit must be active; anything else is CRITICAL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import floor
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, refuse
from registry_monitor.probes.reading import Measured
from registry_monitor.times import when

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.services import ServicesStatus, UnitStatus

ACTIVE = floor(1)  # perfdata: critical below 1 (not active)


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "services", "a unit is active or it is not")
    return {}


def describe(u: UnitStatus) -> tuple[State, str]:
    if u.active:
        parts = [f"{u.unit} active ({u.sub_state})"]
        if u.started_at is not None:
            parts.append(f"since {when(u.started_at)}")
        if u.main_pid:
            parts.append(f"pid {u.main_pid}")
        if u.restarts:
            parts.append(f"{u.restarts} automatic restarts")
        return State.OK, ", ".join(parts)
    if u.load_state == "not-found":
        return State.CRITICAL, f"{u.unit} not found (no such unit)"
    if u.load_state != "loaded":
        return State.CRITICAL, f"{u.unit} {u.active_state} ({u.sub_state}, {u.load_state})"
    return State.CRITICAL, f"{u.unit} {u.active_state} ({u.sub_state})"


def judge(reading: Measured[ServicesStatus], limits: Limits) -> Verdict:
    status = reading.value
    j = VerdictBuilder("services")
    for u in status.units:
        j.add(*describe(u))
        if u.process is not None:
            j.detail(f"{u.unit} main process: {u.process.summary()}")
        j.perf(f"active_{u.unit}", int(u.active), critical=ACTIVE, minimum=0, maximum=1)
        j.perf(f"restarts_{u.unit}", u.restarts, "c")
    n = len(status.units)
    return j.verdict(f"{n}/{n} units active" if n else "no units configured")
