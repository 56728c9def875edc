"""The standby's readings -> failover_ready and failover_blocker{reason}, at render time.

Not one probe's rendering: the judgement over the cached readings of several
(registry_monitor.judging.readiness), the same function check_registry failover runs.
It does no I/O, so it is cheap enough to run on each scrape.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge, single_gauge
from registry_monitor.config import Config
from registry_monitor.judging.readiness import REASONS, assess_readiness
from registry_monitor.probes.reading import Reading
from registry_monitor.probes.standby import StandbyStatus


def render_failover(config: Config, readings: Mapping[str, Reading[Any]]) -> Iterator[Metric]:
    readiness = assess_readiness(config, readings, time.time())
    ready = single_gauge(
        "failover_ready",
        "1 if this standby could become the active now: compared with the active, lag under "
        "its critical level, no divergent content or dangling references, every canary pull "
        "verified, configuration as on the active, certificate valid with its key, no sync "
        "running, room on disk for the active's content. Judged from the probes' last readings",
        flag(readiness.ready),
    )
    blocker = gauge(
        "failover_blocker",
        "1 for each reason that blocks a failover now, 0 for the others (one series per reason)",
        ["reason"],
    )
    blocking = set(readiness.reasons)
    for reason in REASONS:
        blocker.add_metric([reason], flag(reason in blocking))
    yield from (ready, blocker)
    if readiness.lost_tags is not None:
        yield single_gauge(
            "failover_lost_tags",
            "Tags of the active a failover now would lose (missing or moved on this standby)",
            float(readiness.lost_tags),
        )
    standby = readings.get("standby")
    status = standby.value if standby is not None else None
    if isinstance(status, StandbyStatus) and status.answered_at:
        yield single_gauge(
            "failover_active_last_seen_timestamp_seconds",
            "Unix time (this node's clock) the active's exporter last answered this standby. "
            "While it does not answer, the failover answer is judged from that last answer "
            "(kept in state_dir)",
            status.answered_at,
        )
        yield single_gauge(
            "failover_active_known_timestamp_seconds",
            "Unix time (this node's clock) of the active's content as last compared (its scan "
            "behind that answer): pushes after it are unknown while the active is silent",
            status.known_at,
        )
        yield single_gauge(
            "failover_active_answering",
            "1 if the standby probe's last run had the active's answer, 0 if the failover "
            "answer is judged from what it said last",
            flag(readiness.active_gone is None),
        )
