"""The pair on real hosts: an active and a standby booted with systemd on a private link,
laid out as puppet renders them (the active's rsync daemon module, the standby's
quickdatacopy timer), the package installed on both. The standby's data comes only from
the real timer's real rsync; the lag and the failover answer are the exporters'."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import installed
from testbed.puppet_hosts import SYNC_UNIT
from tests.support.metrics import value
from tests.support.realhosts import RealNode, booted, deb  # noqa: F401  (the session's .deb)
from tests.test_real_host import CANARY, PUBLIC_URL, push

# a host boots, installs and starts in about a minute; more on a loaded machine
pytestmark = [pytest.mark.realhost, pytest.mark.timeout(900)]

TIMER = SYNC_UNIT.removesuffix(".service") + ".timer"
# The test's own values: probes often enough to see a sync within a minute.
FAST = {
    "intervals": {"sync": 2, "standby": 3, "storage": 3, "pull": 5, "parity": 5},
    "timeouts": {"sync": 2, "standby": 3, "storage": 3, "pull": 5, "parity": 5},
}
FAST_TIMER = "[Timer]\nOnCalendar=\nOnActiveSec=1s\nOnUnitInactiveSec=3s\nAccuracySec=1ms\n"


@pytest.fixture(scope="module")
def pair(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RealNode]]:  # noqa: F811
    own = {"active": FAST, "standby": FAST}
    roles = ("active", "standby")
    with booted(tmp_path_factory.mktemp("realpair"), deb, roles, **own) as nodes:
        active, standby = nodes
        push(active.host, CANARY)
        for node in nodes:
            installed.configure(node.host, node.config)
        installed.wait_for_readings(active.host, ("storage",))
        installed.wait_for_readings(standby.host, ("sync", "standby"))
        standby.host.write(f"/etc/systemd/system/{TIMER}.d/fast.conf", FAST_TIMER)
        standby.host.systemctl("daemon-reload")
        standby.host.systemctl("restart", TIMER)
        yield nodes


def standby_reading(node: RealNode, until: Any, what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = installed.probes_of(node.status())["standby"]
        if last["value"] and until(last["value"]):
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: not seen in {timeout} s; last: {last}")


def storage_tags(node: RealNode) -> float:
    return value(installed.api_status(node.host, "/metrics"), "registry_monitor_storage_tags")


def await_metric(node: RealNode, until: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} on {node.host.name}: not seen in {timeout} s")
        time.sleep(0.3)


def test_the_timer_syncs_and_the_standby_is_ready(pair: list[RealNode]) -> None:
    active, standby = pair
    in_step = standby_reading(standby, lambda v: v["in_step"], "the standby in step")
    assert (in_step["state"], in_step["value"]["lag_seconds"]) == ("OK", 0)
    # the lag seen: no sync while the push is new (the timer held), then the timer's run
    standby.host.systemctl("stop", TIMER)
    tags = storage_tags(active)
    push(active.host, "tool-new:v1")
    await_metric(active, lambda: storage_tags(active) == tags + 1, "the active's scan")
    lagging = standby_reading(standby, lambda v: v["missing_tags"] == 1, "the push missed")
    assert lagging["value"]["oldest_missing_tag"] == "tool-new:v1"
    assert lagging["value"]["lag_seconds"] > 0
    standby.host.systemctl("start", TIMER)
    standby_reading(standby, lambda v: v["in_step"], "the push synced")
    # the sync ran from the timer: systemd recorded it on the standby, never on the active
    assert standby.host.show(SYNC_UNIT, "Result")["Result"] == "success"
    assert active.host.show(SYNC_UNIT, "LoadState")["LoadState"] == "not-found"
    deadline = time.monotonic() + 120
    while True:
        code, text = standby.check("failover")
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert (code, text.split(" | ")[0]) == (
        0,
        "REGISTRY FAILOVER OK - ready: a failover now loses 0 tags (lag 0s)",
    ), text


def test_a_push_on_the_standby_is_divergent_and_the_guard_keeps_it(
    pair: list[RealNode],
) -> None:
    standby = pair[1]
    standby.host.systemctl("stop", TIMER)  # the next sync would run before it is seen
    try:
        push(standby.host, "pushed-here:v1")
        seen = standby_reading(standby, lambda v: v["divergent_tags"] == 1, "the divergent tag")
        assert seen["state"] == "CRITICAL"
        assert [(t["repository"], t["tag"]) for t in seen["value"]["divergent_examples"]] == [
            ("pushed-here", "v1")
        ]
    finally:
        standby.host.systemctl("start", TIMER)
    # the package's sync guard (the unit's ExecStartPre) refuses the rsync --delete that
    # would erase it: systemd records the run failed, and the tag stays
    deadline = time.monotonic() + 120
    while standby.host.show(SYNC_UNIT, "ActiveState")["ActiveState"] != "failed":
        assert time.monotonic() < deadline, "no refused sync run"
        time.sleep(0.3)
    kept = "/srv/registry/docker/registry/v2/repositories/pushed-here"
    assert standby.host.run(["test", "-d", kept], check=False).returncode == 0


def test_both_nodes_refuse_anonymous_pushes_and_serve_anonymous_pulls(
    pair: list[RealNode],
) -> None:
    for node in pair:
        code, text = node.check("api", "-v")
        lines = text.splitlines()
        assert code == 0, text
        assert f"[OK] public {PUBLIC_URL}: anonymous push refused (HTTP 401)" in lines
        assert any(line.startswith(f"[OK] public canary {CANARY} present") for line in lines)
