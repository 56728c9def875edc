"""disk reading -> filesystem_* families (node_exporter's names and labels)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge
from registry_monitor.probes.disk import DiskUsage
from registry_monitor.probes.reading import Measured

LABELS = ("path", "mountpoint", "device", "fstype")


def render(reading: Measured[DiskUsage]) -> Iterator[Metric]:
    d = reading.value
    labels = [d.path, d.mountpoint, d.device, d.fstype]
    figures = (
        (
            "filesystem_size_bytes",
            "Size of the filesystem holding data_dir, in bytes.",
            d.size_bytes,
        ),
        (
            "filesystem_avail_bytes",
            "Bytes available to non-root users (the registry) on that filesystem.",
            d.avail_bytes,
        ),
        (
            "filesystem_free_bytes",
            "Free bytes on that filesystem, root reserve included.",
            d.free_bytes,
        ),
        ("filesystem_files", "Inodes of that filesystem.", d.files),
        ("filesystem_files_free", "Free inodes of that filesystem.", d.files_free),
        ("filesystem_readonly", "1 if that filesystem is mounted read-only.", flag(d.readonly)),
    )
    for name, doc, value in figures:
        family = gauge(name, doc, LABELS)
        family.add_metric(labels, float(value))
        yield family
    unmounted = gauge(
        "data_dir_unmounted",
        "1 if data_dir must be on a volume of its own (data_dir_must_be_mount) and is on "
        "the root filesystem: the volume is not mounted. 0 otherwise, or with the rule off.",
        ["path"],
    )
    unmounted.add_metric([d.path], flag(d.on_own_volume is False))
    yield unmounted
