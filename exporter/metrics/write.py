"""write reading -> write_* families."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.write import WriteStatus


def render(reading: Measured[WriteStatus]) -> Iterator[Metric]:
    w = reading.value
    up = gauge(
        "write_up", "1 if a blob upload to the canary repository completed (201).", ["endpoint"]
    )
    up.add_metric([w.endpoint], flag(w.up))
    duration = gauge("write_duration_seconds", "Seconds the canary blob upload took.", ["endpoint"])
    duration.add_metric([w.endpoint], w.duration_seconds)
    yield from (up, duration)
