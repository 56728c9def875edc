"""standby: how much a failover now would lose, in seconds (the recovery point).

The lag is judged against -w/-c in seconds, by default the config's
`standby_lag_seconds` (30 / 60 minutes). Missing and mismatched tags are what
the lag is made of: each named in the long output, judged by their age. An
active exporter that cannot be asked is UNKNOWN (there is no lag to read).

Content only this node has, pushed here since the last successful sync began
(divergent tags: the next `rsync --delete` erases them), is CRITICAL whatever
the lag: the first ten are named with repository, tag and push time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, ceiling
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, ceiling_levels
from registry_monitor.probes.reading import Measured
from registry_monitor.times import when

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.standby import StandbyStatus


def thresholds(config: Config, options: Options) -> Limits:
    why = "-w/-c are the lag in seconds"
    return {"lag": ceiling_levels(options, "standby", why, config.thresholds.standby_lag_seconds)}


def judge(reading: Measured[StandbyStatus], limits: Limits) -> Verdict:
    s = reading.value
    if reading.error:  # the active is silent: no lag measured, only what it said last
        j = VerdictBuilder("standby")
        j.add(State.UNKNOWN, reading.error)
        lost = s.missing_tags + s.mismatched_tags
        j.detail(
            f"at the active's last answer ({when(s.known_at)}) this node lacked {lost} tags: "
            "check_registry failover judges from that"
        )
        return j.verdict(reading.error)
    j = VerdictBuilder("standby")
    lag_limit = limits.get("lag", Threshold())
    lag = round(s.lag_seconds)
    state = lag_limit.state(lag)
    if s.in_step:
        j.add(state, f"in step with {s.active_node}: every tag of the active is here")
    else:
        j.add(
            state,
            f"lag {lag}s behind {s.active_node} {lag_limit.explain(lag)}".rstrip()
            + f": {s.missing_tags} tags missing, {s.mismatched_tags} moved, "
            f"{s.missing_repositories} repositories missing",
        )
        if s.oldest_missing_tag:
            j.detail(f"oldest: {s.oldest_missing_tag}")
        for example in s.examples:
            j.detail(example)
    if s.divergent_tags:
        j.add(
            State.CRITICAL,
            f"{s.divergent_tags} tags pushed to this standby ({s.divergent_repositories} "
            "repositories the active lacks): the next sync erases them",
        )
        for tag in s.divergent_examples:
            j.detail(f"{tag.repository}:{tag.tag} pushed {when(tag.pushed_at)}, {tag.why}")
    else:
        since = (
            f"since the last sync began ({when(s.divergent_since)})"
            if s.divergent_since is not None
            else "(no successful sync known)"
        )
        j.add(State.OK, f"nothing pushed here {since}")
    if s.missing_blobs:
        j.add(State.OK, f"{s.missing_blobs} blobs of the active not here")
    j.add(
        State.OK,
        f"active's inventory from {s.active_url} ({s.response}), "
        f"{s.inventory_age_seconds:.0f}s old",
    )
    j.perf("lag", lag, "s", lag_limit, 0)
    j.perf("missing_tags", s.missing_tags, minimum=0)
    j.perf("mismatched_tags", s.mismatched_tags, minimum=0)
    j.perf("missing_repositories", s.missing_repositories, minimum=0)
    j.perf("missing_blobs", s.missing_blobs, minimum=0)
    j.perf("divergent_tags", s.divergent_tags, critical=ceiling(0), minimum=0)
    j.perf("divergent_repositories", s.divergent_repositories, minimum=0)
    if s.in_step:
        return j.verdict(f"in step with {s.active_node}, lag 0s")
    return j.verdict(f"lag {lag}s behind {s.active_node}, {s.missing_tags} tags missing")
