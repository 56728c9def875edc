"""Readings -> Prometheus metric families (the metrics contract in README).

`ReadingsCollector.collect()` only renders the scheduler's cache: it runs on
the event loop of the ASGI app, so it must never block or do I/O.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CollectorRegistry, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.metrics.families import NAMESPACE, gauge
from registry_monitor import __version__
from registry_monitor.config import Config
from registry_monitor.probe_catalog import spec
from registry_monitor.probes.reading import Measured, Reading, measured

log = logging.getLogger(__name__)

Render = Callable[[Measured[Any]], Iterator[Metric]]


def renderer(probe: str) -> Render:
    """The `render` of a probe of the catalog, from exporter.metrics.<probe>."""
    render: Render = importlib.import_module(f"{__name__}.{spec(probe).name}").render
    return render


class ReadingsCollector(Collector):
    def __init__(
        self,
        config: Config,
        probes: tuple[str, ...],
        readings: Callable[[], Mapping[str, Reading[Any]]],
    ) -> None:
        self.config = config
        self.probes = probes
        self.readings = readings
        self.renderers = {name: renderer(name) for name in probes}
        self._failing: set[str] = set()  # probes whose rendering failed last time

    def collect(self) -> Iterator[Metric]:
        readings = self.readings()
        yield from (cap_labels(f) for f in self._self_metrics(readings))  # node is config's
        for name in self.probes:
            reading = readings.get(name)
            # a reading without a value has only the probe_* series: for every probe, here
            with_value = measured(reading) if reading is not None else None
            if with_value is None:
                continue
            try:
                families = [cap_labels(f) for f in self.renderers[name](with_value)]
            except Exception:  # a rendering bug must cost one probe's series, not the scrape
                if name not in self._failing:  # one traceback, not one per scrape
                    self._failing.add(name)
                    log.exception("rendering metrics of probe %s failed", name)
                continue
            if name in self._failing:
                self._failing.discard(name)
                log.info("rendering metrics of probe %s works again", name)
            yield from families
        if self.config.role == "standby":
            yield from self._failover(readings)

    def _failover(self, readings: Mapping[str, Reading[Any]]) -> Iterator[Metric]:
        from exporter.metrics.failover import render_failover

        try:
            families = list(render_failover(self.config, readings))
        except Exception:  # like a probe's rendering: costs these series, not the scrape
            if "failover" not in self._failing:
                self._failing.add("failover")
                log.exception("rendering the failover readiness failed")
            return
        self._failing.discard("failover")
        yield from families

    def _self_metrics(self, readings: Mapping[str, Reading[Any]]) -> Iterator[Metric]:
        build = InfoMetricFamily(NAMESPACE + "build", "registry-monitor version.")
        build.add_metric([], {"version": __version__})
        node = InfoMetricFamily(
            NAMESPACE + "node", "This node's name and role (active or standby), from the config."
        )
        node.add_metric([], {"node": self.config.node, "role": self.config.role})
        success = gauge(
            "probe_success",
            "1 if the probe's last run produced its reading, 0 if it failed or timed out. "
            "Probes run in the background on their own intervals; scrapes read their last "
            "readings and never wait for a probe, so a hung target cannot fail a scrape",
            ["probe"],
        )
        duration = gauge("probe_duration_seconds", "Seconds the probe's last run took", ["probe"])
        last_run = gauge(
            "probe_last_run_timestamp_seconds", "Unix time the probe's last run started", ["probe"]
        )
        for name in self.probes:
            reading = readings.get(name)
            if reading is None:
                continue
            success.add_metric([name], 1.0 if reading.ok else 0.0)
            duration.add_metric([name], reading.duration_seconds)
            last_run.add_metric([name], reading.started_at)
        yield from (build, node, success, duration, last_run)


MAX_LABEL_LENGTH = 256


def _cap(value: str) -> str:
    return value if len(value) <= MAX_LABEL_LENGTH else value[: MAX_LABEL_LENGTH - 1] + "…"


def cap_labels(family: Metric) -> Metric:
    """Cut label values that come from outside (image names, certificate subjects).

    The exposition format escapes them; a cap keeps a hostile or broken peer
    from inflating every scrape and the TSDB's label index.
    """
    if any(len(v) > MAX_LABEL_LENGTH for s in family.samples for v in s.labels.values()):
        family.samples = [
            s._replace(labels={k: _cap(v) for k, v in s.labels.items()}) for s in family.samples
        ]
    return family


def build_registry(collector: ReadingsCollector) -> CollectorRegistry:
    """A dedicated registry: only our families, no default process/platform collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
