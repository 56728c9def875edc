"""A reading without a value is handled once for every probe, on both faces: the check's
verdict is UNKNOWN with the reading's error, and /metrics has only the probe_* series."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from exporter.metrics import ReadingsCollector, build_registry
from registry_monitor import __version__
from registry_monitor.config import Config
from registry_monitor.judging.judge import judge, limits_for
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Item, Options, Verdict
from registry_monitor.probe_catalog import NAMES
from registry_monitor.probes.reading import Reading

ERROR = "statvfs /srv/registry: Input/output error"


def without_value(probe: str) -> Reading[object]:
    return Reading(probe, 1000.0, 0.25, None, ERROR)


@pytest.mark.parametrize("probe", NAMES)
def test_the_verdict_is_unknown_with_the_error(probe: str) -> None:
    limits = limits_for([probe], Config(node="n"), Options())[probe]
    assert judge(without_value(probe), limits) == Verdict(
        probe, State.UNKNOWN, ERROR, (Item(State.UNKNOWN, ERROR),)
    )


@pytest.mark.parametrize("probe", NAMES)
def test_the_metrics_are_the_probe_series_alone(
    probe: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="exporter.metrics")
    collector = ReadingsCollector(Config(node="n"), (probe,), lambda: {probe: without_value(probe)})
    text = generate_latest(build_registry(collector)).decode()
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        f'registry_monitor_build_info{{version="{__version__}"}} 1.0',
        'registry_monitor_node_info{node="n",role="active"} 1.0',
        f'registry_monitor_probe_success{{probe="{probe}"}} 0.0',
        f'registry_monitor_probe_duration_seconds{{probe="{probe}"}} 0.25',
        f'registry_monitor_probe_last_run_timestamp_seconds{{probe="{probe}"}} 1000.0',
    ]
    # not a renderer that failed on the missing value and was caught: it is never called
    assert caplog.records == []
