"""The moment of truth on the real pair: a push not yet synced, then the active's host gone.

The standby must still say what a failover loses: the loss the active told at
its last answer, since when it has been silent, and that anything pushed
after is unknown (WARNING: a stated uncertainty, not a blocker), while what
can be measured here still blocks. One pair for the module: its active is
killed for good.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from registry_monitor.files.active_memory import INVENTORY_FILE, PARITY_FILE
from testbed.images import Pusher
from testbed.pair import HealthyPair
from testbed.waiting import wait_until
from tests.support.check import CheckRun, run_check
from tests.support.fast_pair import fast_pair
from tests.support.fast_pair import standby_metric as metric

LOST = "toolforge-demo:v1"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HealthyPair]:
    yield from fast_pair(tmp_path_factory.mktemp("gone"))


def failover(pair: HealthyPair, *args: str) -> CheckRun:
    assert pair.standby.exporter is not None
    config = pair.standby.exporter.config_path
    return run_check(config, "failover", "-t", "50", *args, env=pair.standby.systemd.env)


def clock(unix: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(unix))


def stamp(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def kept(pair: HealthyPair, name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(
        (pair.standby.registry.workdir / "state" / name).read_text()
    )
    return doc


def test_the_loss_is_still_named_when_the_active_is_gone(pair: HealthyPair) -> None:
    wait_until(lambda: metric(pair, "registry_monitor_failover_ready") == 1, 60, "ready")
    assert pair.active.exporter is not None
    # the active's last storage scan finished before the push: the one that saw it (and
    # the content the standby knows) began after this one did
    scanned = next(p for p in pair.active.exporter.status()["probes"] if p["probe"] == "storage")
    pushed = scanned["started_at"]
    Pusher(pair.active.registry.url).push_image(*LOST.split(":"))
    wait_until(
        lambda: metric(pair, "registry_monitor_failover_lost_tags") == 1, 60, "the push seen"
    )
    run = failover(pair)
    assert (run.exit_code, run.state) == (0, "OK"), run.stdout
    assert run.text.startswith("ready: a failover now loses 1 tags pushed since ")
    assert (pair.standby.registry.workdir / "state" / PARITY_FILE).is_file()

    # the host is gone: its registry, nginx, exporter and rsync daemon
    for daemon in (pair.active.exporter, pair.active.registry, pair.active.nginx, pair.rsyncd):
        daemon.stop()
    wait_until(
        lambda: metric(pair, "registry_monitor_failover_active_answering") == 0,
        60,
        "the standby to notice",
    )
    # the exporter judges from what it heard last, in memory: exact to its last answer
    # the answers kept came in runs that ended before this failing run began
    assert pair.standby.exporter is not None
    status = pair.standby.exporter.status()
    killed = next(p for p in status["probes"] if p["probe"] == "standby")["started_at"]
    seen = metric(pair, "registry_monitor_failover_active_last_seen_timestamp_seconds")
    known = metric(pair, "registry_monitor_failover_active_known_timestamp_seconds")
    assert seen is not None and known is not None
    assert pushed < known <= seen <= killed
    assert metric(pair, "registry_monitor_failover_ready") == 1  # silence alone blocks nothing
    assert metric(pair, "registry_monitor_failover_lost_tags") == 1
    assert metric(pair, "registry_monitor_standby_lag_seconds") is None  # not measured now
    # check_registry, a process of its own, reads it back from state_dir
    memory = kept(pair, INVENTORY_FILE)
    since, at = memory["answered_at"], memory["known_at"]
    assert isinstance(since, float) and isinstance(at, float)
    # written when the loss first showed, or later (check_registry keeps its answers too)
    assert pushed < at <= since <= killed
    assert memory["lacking"] == [
        {
            "name": LOST,
            "digest": memory["lacking"][0]["digest"],  # type: ignore[index]
            "pushed_at": memory["lacking"][0]["pushed_at"],  # type: ignore[index]
            "why": "missing",
        }
    ]
    answer = (
        f"the active has not answered since {clock(since)} UTC; at its last answer "
        f"({clock(at)}) this standby lacked 1 tag: {LOST}; anything pushed after "
        f"{clock(at)} is unknown"
    )
    run = failover(pair, "-v")
    assert (run.exit_code, run.state, run.text) == (1, "WARNING", answer)
    assert (run.perf("ready").value, run.perf("blockers").value, run.perf("lost_tags").value) == (
        1,
        0,
        1,
    )
    assert f"- lost: {LOST} missing" in run.long
    assert any(line.startswith("[OK] note: parity judged against") for line in run.long)

    # the standby probe alone measures no lag now: UNKNOWN, with what was known
    assert pair.standby.exporter is not None
    url = f"{pair.active.exporter.url}/api/inventory"
    run = run_check(
        pair.standby.exporter.config_path, "standby", "-v", env=pair.standby.systemd.env
    )
    assert (run.exit_code, run.state) == (3, "UNKNOWN")
    assert run.text.startswith(f"active exporter {url} unreachable: ")
    assert run.long[1] == (
        f"- at the active's last answer ({stamp(at)}) this node lacked 1 tags: "
        "check_registry failover judges from that"
    )

    # what is measurable here still blocks: a sync running on this node
    started = time.time()
    pair.sync.record(None, started)
    try:
        run = failover(pair)
        assert (run.exit_code, run.state, run.text) == (
            2,
            "CRITICAL",
            "not ready: sync_running: rsync-docker-registry-sync.service is running: "
            f"let it finish, then look again; {answer}",
        )
    finally:
        pair.sync.record(0, started)
