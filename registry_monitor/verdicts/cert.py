"""cert: days left on the served and on-disk certificates, validity, served = file.

`-w`/`-c` read a bare number N as "fewer than N days left" (N:), as
check_http -C does; any other range keeps its usual meaning.
"""

from __future__ import annotations

import time
from typing import Any

from registry_monitor.config import Config
from registry_monitor.judgement.ranges import Threshold, floor, parse_floor
from registry_monitor.judgement.state import State
from registry_monitor.judgement.verdict import Judgement, Options, Verdict, unknown
from registry_monitor.probes.cert import CertsStatus, CertStatus
from registry_monitor.probes.reading import Reading
from registry_monitor.verdicts import Limits, failed, levels, refuse

GOOD = floor(1)  # perfdata: a validity/match flag below 1 is a problem


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "cert", "-w/-c are days left", allowed=("-w", "-c"))
    days = levels(
        options.warning, options.critical, config.thresholds.cert_days_left, parse_floor, floor
    )
    return {"days_left": days}


def title(c: CertStatus) -> str:
    return f"served certificate of {c.target}" if c.source == "served" else f"{c.target}"


def date(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix))


def judge_cert(j: Judgement, c: CertStatus, days_left: Threshold, now: float) -> float | None:
    if not c.fetched:
        # Not reaching nginx (refused, time-out, TLS failure) is a finding; a file
        # this user cannot read is the plugin's own failure.
        state = State.CRITICAL if c.source == "served" else State.UNKNOWN
        j.add(state, f"{title(c)}: {c.error}")
        return None
    if c.valid is False:
        j.add(State.CRITICAL, f"{title(c)} is not valid: {c.error}")
    elif c.valid is None:
        j.add(State.CRITICAL, f"{title(c)} could not be verified: {c.error}")
    days = round(c.days_left(now) or 0.0, 2)
    until = date(c.not_after or 0)
    text = (
        f"{title(c)} expired {-days:.1f} days ago ({until})"
        if days < 0
        else f"{title(c)} expires in {days:.1f} days ({until})"
    )
    j.add(days_left.state(days), f"{text} {days_left.explain(days)}".rstrip())
    j.perf(f"{c.source}_days_left", days, threshold=days_left)
    j.perf(f"{c.source}_valid", int(bool(c.valid)), critical=GOOD, minimum=0, maximum=1)
    return days


def judge(reading: Reading[Any], limits: Limits) -> Verdict:
    status = reading.value
    if not isinstance(status, CertsStatus):
        return failed(reading)
    if not status.certs:
        return unknown("cert", "no certificate to check: public_url is not https, cert_file null")
    j = Judgement("cert")
    now = time.time()
    days = {
        c.source: judge_cert(j, c, limits.get("days_left", Threshold()), now) for c in status.certs
    }
    served, on_disk = status.by_source("served"), status.by_source("file")
    if status.served_matches_file is not None and served and on_disk:
        if status.served_matches_file:
            j.add(State.OK, f"nginx serves the certificate in {on_disk.target}")
        else:
            j.add(
                State.WARNING,
                f"served certificate differs from {on_disk.target} (renewed on disk, "
                "nginx not reloaded?)",
            )
        j.perf(
            "served_matches_file",
            int(status.served_matches_file),
            warning=GOOD,
            minimum=0,
            maximum=1,
        )
    return j.verdict(ok_summary(status, days))


def ok_summary(status: CertsStatus, days: dict[str, float | None]) -> str:
    parts = []
    for c in status.certs:
        left = days.get(c.source)
        if left is not None and c.not_after is not None:
            name = "served certificate" if c.source == "served" else c.target
            parts.append(f"{name} valid, {left:.0f} days left (until {date(c.not_after)})")
    if status.served_matches_file:
        parts = [*parts[:1], "the same in the file"]
    return ", ".join(parts)
