"""The recovery point on the real pair with the default intervals: a push on the active shows
in the standby's lag at its true age, and the lag grows with the clock between probe runs.

How soon the push shows (the goal: 30 s) is a figure of speed, measured by
`python -m bench.recovery_point` (bench/README.md), never asserted here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import trustme

from testbed.images import Pusher
from testbed.pair import HealthyPair
from testbed.waiting import wait_until
from tests.support.metrics import value

OLDEST = "registry_monitor_standby_oldest_missing_push_timestamp_seconds"
LAG = "registry_monitor_standby_lag_seconds"
AGE_RESOLUTION = 1.0  # the inventory's Age header counts whole seconds


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HealthyPair]:
    with HealthyPair(tmp_path_factory.mktemp("rpo"), trustme.CA()) as started:  # defaults
        yield started


def scrape(pair: HealthyPair) -> tuple[float, float, float | None, float | None]:
    """(time before, time after, lag, oldest missing push) of one scrape of the standby."""
    assert pair.standby.exporter is not None
    before = time.time()
    text = pair.standby.exporter.metrics_text()
    return before, time.time(), value(text, LAG), value(text, OLDEST)


def test_a_push_shows_at_its_true_age_and_the_lag_grows_with_the_clock(
    pair: HealthyPair,
) -> None:
    assert scrape(pair)[2:] == (0.0, 0.0)  # in step
    before = time.time()
    Pusher(pair.active.registry.url).push_image("toolforge-demo", "v1")
    after = time.time()
    wait_until(lambda: (scrape(pair)[3] or 0.0) > 0, 120, "the push in the standby's lag")
    first = scrape(pair)
    a1, b1, lag1, oldest1 = first
    assert lag1 is not None and oldest1 is not None
    # the push's time as the standby knows it: the tag link's mtime, aged on one clock
    assert before - AGE_RESOLUTION <= oldest1 <= after + AGE_RESOLUTION
    assert a1 - after - AGE_RESOLUTION <= lag1 <= b1 - before + AGE_RESOLUTION
    # two scrapes with no probe run between them: the lag grew as the clock did
    for _ in range(50):
        run = standby_run(pair)
        a1, b1, lag1, oldest1 = scrape(pair)
        wait_until(lambda: time.time() > b1 + 2, 10, "two seconds to pass")  # noqa: B023
        a2, b2, lag2, oldest2 = scrape(pair)
        if standby_run(pair) == run:
            break
    else:
        pytest.fail("no two scrapes 2 s apart between the same two runs of the standby probe")
    assert lag1 is not None and lag2 is not None and oldest1 is not None
    assert oldest2 == oldest1
    assert a2 - b1 <= lag2 - lag1 <= b2 - a1


def standby_run(pair: HealthyPair) -> float:
    """When the standby probe's reading that the exporter shows now was taken."""
    assert pair.standby.exporter is not None
    status = pair.standby.exporter.status()
    started: float = next(p for p in status["probes"] if p["probe"] == "standby")["started_at"]
    return started
