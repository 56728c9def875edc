"""The helpers that build the project's metric families."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.registry import Collector

from exporter.metrics.families import single_counter, single_gauge


def exposition(family: Metric) -> str:
    class One(Collector):
        def collect(self) -> list[Metric]:
            return [family]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    return generate_latest(registry).decode()


def test_single_gauge_is_one_unlabelled_sample_in_the_namespace() -> None:
    assert exposition(single_gauge("disk_used_ratio", "Share of the disk used", 0.5)) == (
        "# HELP registry_monitor_disk_used_ratio Share of the disk used"
        " (from the probe's last run, not measured at scrape time)\n"
        "# TYPE registry_monitor_disk_used_ratio gauge\n"
        "registry_monitor_disk_used_ratio 0.5\n"
    )


def test_single_counter_is_one_unlabelled_total_in_the_namespace() -> None:
    assert exposition(single_counter("storage_blob_verify_failures", "Bad blobs", 3)) == (
        "# HELP registry_monitor_storage_blob_verify_failures_total Bad blobs"
        " (from the probe's last run, not measured at scrape time)\n"
        "# TYPE registry_monitor_storage_blob_verify_failures_total counter\n"
        "registry_monitor_storage_blob_verify_failures_total 3.0\n"
    )
