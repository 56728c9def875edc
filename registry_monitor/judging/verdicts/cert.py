"""cert: days left on the served and on-disk certificates, validity, served = file,
the chain's intermediates, the name, and the private key.

`-w`/`-c` read a bare number N as "fewer than N days left" (N:), as
check_http -C does; any other range keeps its usual meaning. A leaf reaches
a level only when the share of its lifetime left
(`thresholds.cert_lifetime_left_ratio`) is also below that level's share: the
same config then fits 90-day certificates (judged at the days) and 45-day
ones (judged later, in proportion). Intermediates are judged in days alone.
`-w`/`-c` on the command line judge by days alone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, floor, parse_floor
from registry_monitor.judging.state import SEVERITY, State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder, unknown
from registry_monitor.judging.verdicts import Limits, levels, refuse
from registry_monitor.probes.reading import Measured
from registry_monitor.times import day_minute

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.cert import CertsStatus
    from registry_monitor.tls.reader import CertStatus

GOOD = floor(1)  # perfdata: a validity/match flag below 1 is a problem


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "cert", "-w/-c are days left", allowed=("-w", "-c"))
    days = levels(
        options.warning, options.critical, config.thresholds.cert_days_left, parse_floor, floor
    )
    if options.warning is not None or options.critical is not None:
        return {"days_left": days}  # days asked for on the command line: days alone
    ratio = config.thresholds.cert_lifetime_left_ratio
    share = Threshold(floor(ratio.warning), floor(ratio.critical))
    return {"days_left": days, "lifetime_left_ratio": share}


def later(a: State, b: State) -> State:
    """The milder of two states: a level counts when both the days and the share say so."""
    return a if SEVERITY[a] <= SEVERITY[b] else b


def title(c: CertStatus) -> str:
    return f"served certificate of {c.target}" if c.source == "served" else f"{c.target}"


def judge_cert(
    j: VerdictBuilder, c: CertStatus, days_left: Threshold, ratio: Threshold, now: float
) -> float | None:
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
    until = day_minute(c.not_after or 0)
    text = (
        f"{title(c)} expired {-days:.1f} days ago ({until})"
        if days < 0
        else f"{title(c)} expires in {days:.1f} days ({until})"
    )
    share = round(c.lifetime_left_ratio(now) or 0.0, 4)
    state = days_left.state(days)
    if ratio.warning is not None or ratio.critical is not None:
        state = later(state, ratio.state(share))
    explain = days_left.explain(days) if state is not State.OK else ""
    if state is not State.OK and ratio.warning is not None and days >= 0:
        explain = f"{explain} and {share:.0%} of its lifetime left".strip()
    j.add(state, f"{text} {explain}".rstrip())
    j.perf(f"{c.source}_days_left", days, threshold=days_left)
    j.perf(f"{c.source}_lifetime_left_ratio", share, threshold=ratio, minimum=0, maximum=1)
    j.perf(f"{c.source}_valid", int(bool(c.valid)), critical=GOOD, minimum=0, maximum=1)
    if c.name_matches is False:
        names = ", ".join((*c.names, *c.addresses)) or "none"
        j.add(State.CRITICAL, f"{title(c)} does not cover {c.host} (its names: {names})")
    judge_chain(j, c, days_left, now)
    return days


def judge_chain(j: VerdictBuilder, c: CertStatus, days_left: Threshold, now: float) -> None:
    chain_days = c.chain_days_left(now)
    if chain_days is None or c.chain_not_after is None:
        return
    chain_days = round(chain_days, 2)
    before = " (before the leaf)" if c.not_after and c.chain_not_after < c.not_after else ""
    what = f"{title(c)}: intermediate {c.chain_first_expiring}"
    text = (
        f"{what} expired {-chain_days:.1f} days ago ({day_minute(c.chain_not_after)})"
        if chain_days < 0
        else f"{what} expires in {chain_days:.1f} days ({day_minute(c.chain_not_after)}){before}"
    )
    j.add(days_left.state(chain_days), f"{text} {days_left.explain(chain_days)}".rstrip())
    j.perf(f"{c.source}_chain_days_left", chain_days, threshold=days_left)


def judge_key(j: VerdictBuilder, status: CertsStatus) -> None:
    key = status.key
    if key is None:
        return
    cert = status.by_source("file") or status.by_source("served")
    against = (
        cert.target if cert is not None and cert.source == "file" else "the served certificate"
    )
    if key.state == "matches":
        j.add(State.OK, f"key {key.path} matches {against}")
    elif key.state == "mismatch":
        j.add(
            State.CRITICAL, f"key {key.path} does not match {against}: nginx cannot serve the pair"
        )
    elif key.state == "not readable":
        j.add(
            State.UNKNOWN,
            f"key {key.path} not readable ({key.error}): give this user read access "
            "(docs/configuration.md, cert_key_file)",
        )
    else:
        j.add(State.UNKNOWN, f"key {key.path}: {key.error}")
    if key.readable:
        j.perf("key_matches", int(bool(key.matches)), critical=GOOD, minimum=0, maximum=1)


def judge(reading: Measured[CertsStatus], limits: Limits) -> Verdict:
    status = reading.value
    if not status.certs:
        return unknown("cert", "no certificate to check: public_url is not https, cert_file null")
    j = VerdictBuilder("cert")
    now = time.time()
    days_left = limits.get("days_left", Threshold())
    ratio = limits.get("lifetime_left_ratio", Threshold())
    days = {c.source: judge_cert(j, c, days_left, ratio, now) for c in status.certs}
    judge_key(j, status)
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
            parts.append(f"{name} valid, {left:.0f} days left (until {day_minute(c.not_after)})")
    if status.served_matches_file:
        parts = [*parts[:1], "the same in the file"]
    return ", ".join(parts)
