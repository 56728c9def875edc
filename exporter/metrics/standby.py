"""standby reading -> standby_* families (absent when the active could not be asked).

The lag is taken at scrape time from the oldest lacking push's time: between
probe runs it grows with the clock, as the recovery point does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import single_gauge
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.standby import StandbyStatus


def render(reading: Measured[StandbyStatus]) -> Iterator[Metric]:
    s = reading.value
    if not reading.ok:  # what the active said last: in failover_*
        return
    oldest = s.oldest_missing_push
    lag = max(0.0, time.time() - oldest) if oldest is not None else s.lag_seconds
    figures = (
        (
            "standby_lag_seconds",
            "Recovery point: age of the oldest tag push on the active that this standby "
            "lacks (missing, or pointing elsewhere, or incomplete here); 0 when in step. "
            "What a failover now would lose. Taken at scrape time: it grows with the clock "
            "between probe runs.",
            lag,
        ),
        (
            "standby_oldest_missing_push_timestamp_seconds",
            "Unix time (this node's clock) of the oldest tag push on the active that this "
            "standby lacks; 0 when it lacks none.",
            oldest or 0.0,
        ),
        (
            "standby_missing_tags",
            "Tags complete on the active that are absent or incomplete here.",
            s.missing_tags,
        ),
        (
            "standby_mismatched_tags",
            "Tags present here that point to another manifest than on the active.",
            s.mismatched_tags,
        ),
        (
            "standby_missing_repositories",
            "Repositories on the active absent here.",
            s.missing_repositories,
        ),
        ("standby_missing_blobs", "Blobs on the active absent here.", s.missing_blobs),
        (
            "standby_divergent_tags",
            "Tags pushed to this standby that the next sync deletes or overwrites: absent on "
            "the active and pushed since the last successful sync began, or pointing elsewhere "
            "there and newer here. Pending deletions and the write canary are not counted.",
            s.divergent_tags,
        ),
        (
            "standby_divergent_repositories",
            "Repositories the active does not have, holding tags pushed to this standby since "
            "the last successful sync began (the next sync deletes them).",
            s.divergent_repositories,
        ),
    )
    yield from (single_gauge(name, doc, float(value)) for name, doc, value in figures)
