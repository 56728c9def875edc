"""traffic: the last N minutes of nginx's access log, judged like the SLO.

-w/-c take two comma-separated ranges, as check_load takes three: the 5xx
share of requests in percent, then the p95 of manifest reads in seconds
(`-w 1,2 -c 5,5`); a part left empty keeps the config's level
(`access_log.error_percent`, `access_log.manifest_p95_seconds`). As in the
availability objective, 401 challenges and blob HEAD 404s are normal protocol
flow and not counted. The combined log format has no durations: then only the
error share is judged.
"""

from __future__ import annotations

from registry_monitor.accesslog.window import TrafficWindow
from registry_monitor.config import Config, Levels
from registry_monitor.judging.ranges import Threshold, ceiling, parse_range
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, UsageError, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, levels, refuse
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.traffic import TrafficStatus
from registry_monitor.times import when

WHY = "-w/-c are ERROR_PERCENT,P95_SECONDS (5xx share, p95 of manifest reads)"
ACCESS_LOG_OFF = Levels(warning=1, critical=5), Levels(warning=2, critical=5)


def _parts(text: str | None, flag: str) -> tuple[str | None, str | None]:
    if text is None:
        return None, None
    parts = text.split(",")
    if len(parts) > 2:
        raise UsageError(f"{flag}: {WHY}, got {text!r}")
    first, second = parts[0].strip() or None, (parts[1].strip() or None) if len(parts) > 1 else None
    return first, second


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "traffic", WHY, allowed=("-w", "-c"))
    access = config.access_log
    errors_levels, p95_levels = (
        (access.error_percent, access.manifest_p95_seconds) if access else ACCESS_LOG_OFF
    )
    w_errors, w_p95 = _parts(options.warning, "-w")
    c_errors, c_p95 = _parts(options.critical, "-c")
    return {
        "error_percent": levels(w_errors, c_errors, errors_levels, parse_range, ceiling),
        "manifest_p95": levels(w_p95, c_p95, p95_levels, parse_range, ceiling),
    }


def judge(reading: Measured[TrafficStatus | TrafficWindow], limits: Limits) -> Verdict:
    w = reading.value
    if isinstance(w, TrafficStatus):
        return following(w)
    j = VerdictBuilder("traffic")
    span = f"in the last {w.minutes:g} minutes"
    errors_limit = limits.get("error_percent", Threshold())
    p95_limit = limits.get("manifest_p95", Threshold())
    share = w.error_percent
    if share is None:
        j.add(State.OK, f"no requests {span} ({w.path}): nothing to judge")
    else:
        share = round(share, 3)
        upstream = (
            f", {w.upstream_errors} made by nginx without a registry answer"
            if w.upstream_errors
            else ""
        )
        j.add(
            errors_limit.state(share),
            f"{share:g}% of {w.counted} requests {span} answered 5xx ({w.errors}{upstream}) "
            f"{errors_limit.explain(share)}".rstrip(),
        )
    j.perf("error_percent", share, "%", errors_limit, 0, 100)
    j.perf("requests", w.requests, "c", minimum=0)
    j.perf("errors", w.errors, "c", minimum=0)
    p95 = w.manifest_p95_seconds
    reads = w.timed_reads if w.timed_reads is not None else w.manifest_reads
    source = " (the registry's time, from its journal)" if w.durations == "journal" else ""
    if p95 is not None:
        p95 = round(p95, 3)
        j.add(
            p95_limit.state(p95),
            f"p95 of {reads} manifest reads {p95:g}s{source} {p95_limit.explain(p95)}".rstrip(),
        )
    elif w.durations == "none" or (w.format == "combined" and w.durations != "journal"):
        j.add(State.OK, "manifest latency not judged: no durations (access_log.durations)")
    elif w.durations == "journal":
        j.add(State.OK, "manifest latency not judged: no manifest read in the registry's journal")
    j.perf("manifest_p95", p95, "s", p95_limit, 0)
    if w.skipped:
        j.add(State.OK, f"{w.skipped} lines skipped (not {w.format} format, or over-long)")
    if w.truncated:
        j.add(State.UNKNOWN, "the window was not read to its start (too large or out of time)")
    if w.newest is not None:
        j.detail(f"newest line {when(w.newest)}")
    if share is None:
        return j.verdict(f"no requests {span}")
    tail = f", manifest p95 {p95:g}s" if p95 is not None else ""
    return j.verdict(f"{share:g}% 5xx of {w.counted} requests {span}{tail}")


def following(status: TrafficStatus) -> Verdict:
    """The exporter's reading: the log followed since it started. Its error ratio and
    latency are judged over time by the burn-rate alerts, not per reading."""
    j = VerdictBuilder("traffic")
    text = f"following {status.path} ({status.format}): {status.summary()}"
    if status.note:
        j.add(State.WARNING, f"{status.path}: {status.note}")
    else:
        j.add(State.OK, text)
    if status.journal is not None and status.journal.note:
        j.add(State.WARNING, f"durations: {status.journal.note}")
    return j.verdict(text)
