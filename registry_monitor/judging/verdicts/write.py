"""write: a canary blob push must complete (the active only); -w/-c bound its duration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, ceiling, floor, parse_range
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, levels, refuse
from registry_monitor.probes.reading import Measured

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.write import WriteStatus

UP = floor(1)


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "write", "-w/-c are the push duration in seconds", allowed=("-w", "-c"))
    return {"duration": levels(options.warning, options.critical, None, parse_range, ceiling)}


def judge(reading: Measured[WriteStatus], limits: Limits) -> Verdict:
    w = reading.value
    j = VerdictBuilder("write")
    j.perf("write_up", int(w.up), critical=UP, minimum=0, maximum=1)
    ms = f"{1000 * w.duration_seconds:.0f} ms"
    if not w.up:
        j.add(State.CRITICAL, f"blob push to {w.repository} failed after {ms}: {w.error}")
        return j.verdict("")
    t = limits.get("duration", Threshold())
    seconds = round(w.duration_seconds, 6)
    j.add(t.state(seconds), f"blob push to {w.repository} took {ms} {t.explain(seconds)}".rstrip())
    j.perf("write_duration", seconds, "s", t, 0)
    return j.verdict(f"blob push to {w.repository} completed in {ms}")
