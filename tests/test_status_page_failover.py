"""The standby's status page opens with the failover answer, in a real browser, on the real pair:
ready, blocked, and the active gone. `/api/status` carries the same answer.

One pair for the module (testbed/pair.py, the probes every second); the last
test kills its active for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.browser import Browser, Rendered, chromium
from testbed.images import Pusher
from testbed.pair import HealthyPair
from testbed.waiting import wait_until
from tests.support.fast_pair import fast_pair
from tests.support.fast_pair import standby_metric as metric

READY = "registry_monitor_failover_ready"
LOST = "toolforge-demo:v1"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HealthyPair]:
    yield from fast_pair(tmp_path_factory.mktemp("page"))


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    binary = chromium()
    if binary is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return Browser(binary, tmp_path / "browser")


def page(pair: HealthyPair, browser: Browser, name: str) -> Rendered:
    """The standby's page; the failover answer comes before the node's own state."""
    assert pair.standby.exporter is not None
    rendered = browser.load(pair.standby.exporter.url + "/", name)
    assert rendered.console == []
    node = next(i for i, line in enumerate(rendered.lines) if line.endswith("(standby)"))
    assert rendered.lines[0].endswith(("Failover: ready", "Failover: NOT ready"))
    assert node > 2
    return rendered


def api_failover(pair: HealthyPair) -> dict[str, Any]:
    assert pair.standby.exporter is not None
    answer: dict[str, Any] = pair.standby.exporter.status()["failover"]
    return answer


def clock(unix: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(unix))


def test_ready(pair: HealthyPair, browser: Browser) -> None:
    wait_until(lambda: metric(pair, READY) == 1, 60, "a ready standby")
    ready = page(pair, browser, "ready")
    assert ready.lines[:2] == [
        "✔ OK Failover: ready",
        "ready: a failover now loses 0 tags (lag 0s)",
    ]
    assert "[OK] a failover now loses 0 tags" in ready.lines
    assert "[OK] remaining: point the public name at this node (DNS or floating IP)" in ready.lines
    doc = api_failover(pair)
    assert (doc["state"], doc["ready"], doc["summary"], doc["blockers"], doc["active_gone"]) == (
        "OK",
        True,
        "ready: a failover now loses 0 tags (lag 0s)",
        [],
        None,
    )
    assert doc["reasons"][0] == "[OK] a failover now loses 0 tags"
    assert pair.active.exporter is not None
    assert pair.active.exporter.status()["failover"] is None  # judged on the standby only


def test_blocked(pair: HealthyPair, browser: Browser) -> None:
    wait_until(lambda: metric(pair, READY) == 1, 60, "a ready standby")
    began = time.time()
    pair.sync.record(None, began)  # a sync running here
    detail = "rsync-docker-registry-sync.service is running: let it finish, then look again"
    try:
        wait_until(lambda: metric(pair, READY) == 0, 60, "the running sync to block")
        blocked = page(pair, browser, "blocked")
        assert blocked.lines[:2] == [
            "✖ CRITICAL Failover: NOT ready",
            f"not ready: sync_running: {detail}",
        ]
        assert f"[CRITICAL] sync_running: {detail}" in blocked.lines
        doc = api_failover(pair)
        assert (doc["state"], doc["ready"]) == ("CRITICAL", False)
        assert doc["blockers"] == [{"reason": "sync_running", "detail": detail}]
    finally:
        pair.sync.record(0, began)
    wait_until(lambda: metric(pair, READY) == 1, 60, "ready again")


def test_active_gone(pair: HealthyPair, browser: Browser) -> None:
    wait_until(lambda: metric(pair, READY) == 1, 60, "a ready standby")
    Pusher(pair.active.registry.url).push_image(*LOST.split(":"))
    wait_until(lambda: metric(pair, "registry_monitor_failover_lost_tags") == 1, 60, "the push")
    assert pair.active.exporter is not None
    for daemon in (pair.active.exporter, pair.active.registry, pair.active.nginx, pair.rsyncd):
        daemon.stop()
    wait_until(
        lambda: metric(pair, "registry_monitor_failover_active_answering") == 0, 60, "silence"
    )
    seen = metric(pair, "registry_monitor_failover_active_last_seen_timestamp_seconds")
    known = metric(pair, "registry_monitor_failover_active_known_timestamp_seconds")
    assert seen is not None and known is not None
    heard = (
        f"the active has not answered since {clock(seen)} UTC; at its last answer "
        f"({clock(known)}) this standby lacked 1 tag: {LOST}; anything pushed after "
        f"{clock(known)} is unknown"
    )
    gone = page(pair, browser, "active-gone")
    assert gone.lines[:2] == ["▲ WARNING Failover: ready", heard]
    assert f"- lost: {LOST} missing" in gone.lines
    doc = api_failover(pair)
    assert (doc["state"], doc["ready"], doc["summary"], doc["lost_tags"]) == (
        "WARNING",
        True,
        heard,
        1,
    )
    assert doc["active_gone"]["since"] == seen
    assert doc["active_gone"]["known_at"] == known
