"""pull reading -> pull_* families, labelled by endpoint and image."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge
from registry_monitor.probes.pull import PullStatus
from registry_monitor.probes.reading import Measured


def render(reading: Measured[PullStatus]) -> Iterator[Metric]:
    status = reading.value
    labels = ["endpoint", "image"]
    up = gauge(
        "pull_up",
        "1 if the canary image was pulled whole through nginx (manifest, config, every layer) "
        "and every digest verified; 0 if it failed or the byte cap cut it short.",
        labels,
    )
    duration = gauge("pull_duration_seconds", "Seconds the image's pull took.", labels)
    size = gauge("pull_bytes", "Bytes read pulling the image (manifests and blobs).", labels)
    cut = gauge(
        "pull_cut_short",
        "1 if pull_max_bytes_per_run stopped the image's pull before every blob was read.",
        labels,
    )
    for i in status.images:
        key = [i.endpoint, i.image]
        up.add_metric(key, flag(i.up))
        duration.add_metric(key, i.duration_seconds)
        size.add_metric(key, float(i.bytes))
        cut.add_metric(key, flag(i.cut_short))
    yield from (up, duration, size, cut)
