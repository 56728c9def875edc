"""A HealthyPair whose failover-related probes run every second: for tests that watch
the standby's answer change as the active comes and goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import trustme

from testbed.pair import HealthyPair
from tests.support.metrics import value

FAST = {probe: 1 for probe in ("pull", "parity", "standby", "storage", "sync", "cert", "disk")}


def fast_pair(workdir: Path) -> Iterator[HealthyPair]:
    """Body of a module-scoped fixture: the pair started, stopped when the module ends."""
    with HealthyPair(workdir, trustme.CA(), config={"intervals": FAST, "timeouts": FAST}) as pair:
        yield pair


def standby_metric(pair: HealthyPair, name: str) -> float | None:
    assert pair.standby.exporter is not None
    return value(pair.standby.exporter.metrics_text(), name)
