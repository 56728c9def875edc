"""write: a canary blob push must complete (the active only); -w/-c bound its duration."""

from __future__ import annotations

from typing import Any

from checks.ranges import Threshold, ceiling, floor, parse_range
from checks.state import State
from checks.verdict import Judgement, Options, Verdict
from checks.verdicts import Limits, failed, levels, refuse
from exporter.config import Config
from exporter.probes.reading import Reading
from exporter.probes.write import WriteStatus

UP = floor(1)


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "write", "-w/-c are the push duration in seconds", allowed=("-w", "-c"))
    return {"duration": levels(options.warning, options.critical, None, parse_range, ceiling)}


def judge(reading: Reading[Any], limits: Limits) -> Verdict:
    w = reading.value
    if not isinstance(w, WriteStatus):
        return failed(reading)
    j = Judgement("write")
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
