"""Small helpers to build metric families with the project's namespace."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

NAMESPACE = "registry_monitor_"
CACHED = " (from the probe's last run, not measured at scrape time)"


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(NAMESPACE + name, doc + CACHED, labels=list(labels))


def single_gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    """A gauge with one unlabelled sample: the shape most figures take."""
    family = gauge(name, doc)
    family.add_metric([], value)
    return family


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(NAMESPACE + name, doc + CACHED, labels=list(labels))


def single_counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    """A counter with one unlabelled sample (exposed as `<name>_total`)."""
    family = counter(name, doc)
    family.add_metric([], value)
    return family


def flag(value: bool | None) -> float:
    return 1.0 if value else 0.0
