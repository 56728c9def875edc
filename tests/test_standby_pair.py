"""An active/standby pair on loopback: two real registries, real rsync, both exporters."""

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from registry_monitor.storage.inventory_wire import decode
from testbed.exporter import Exporter
from testbed.images import DOCKER_MANIFEST
from testbed.waiting import wait_until
from tests.support.metrics import names, value
from tests.support.pair import TOKEN, Pair

Start = Callable[..., Exporter]
REPOS = "docker/registry/v2/repositories/"
BLOBS = "docker/registry/v2/blobs/"


@dataclass
class Exporters:
    active: Exporter
    standby: Exporter

    def settle(self) -> dict[str, Any]:
        """The first standby reading made after an active scan that began after now."""
        scan = self.active.wait_reading("storage", newer_than=time.time())
        done = scan["started_at"] + scan["duration_seconds"]
        return self.standby.wait_reading("standby", newer_than=done)

    def standby_storage(self) -> dict[str, Any]:
        return self.standby.wait_reading("storage", newer_than=time.time())


def start_pair(pair: Pair, start: Start) -> Exporters:
    active = start(pair.config("active", pair.active), wait_for=("write",), name="exp-active")
    standby = start(
        pair.config("standby", pair.standby, active_exporter_url=active.url),
        wait_for=("storage", "sync"),
        name="exp-standby",
    )
    return Exporters(active, standby)


def figures(entry: dict[str, Any]) -> tuple[Any, ...]:
    assert entry["ok"], entry["error"]
    v = entry["value"]
    return (
        v["in_step"],
        v["missing_tags"],
        v["mismatched_tags"],
        v["missing_repositories"],
        v["missing_blobs"],
    )


IN_STEP = (True, 0, 0, 0, 0)
STORAGE_METRICS = {
    f"registry_monitor_storage_{name}"
    for name in (
        "repositories",
        "tags",
        "manifests",
        "blobs",
        "blob_bytes",
        "last_push_timestamp_seconds",
        "uploads",
        "dangling_references",
        "reclaimable_bytes",
        "blob_verify_failures_total",
        "blob_verified_bytes_total",
        "foreign_owner_files",
    )
}
SYNC_METRICS = {
    f"registry_monitor_sync_{name}"
    for name in (
        "last_run_timestamp_seconds",
        "last_success_timestamp_seconds",
        "last_exit_code",
        "running",
        "timer_active",
    )
}
STANDBY_METRICS = {
    f"registry_monitor_standby_{name}"
    for name in (
        "lag_seconds",
        "missing_tags",
        "mismatched_tags",
        "missing_repositories",
        "missing_blobs",
    )
}


def synced(pair: Pair, subpath: str = "") -> None:
    pair.synced(subpath)


def assert_lag_of(entry: dict[str, Any], pushed_at: float) -> None:
    """lag = now - push time, within what the probe can know, however slow the machine:
    up to the probe's own duration later than its start; up to a second less (the HTTP
    Age carries whole seconds), and less by as much as the active's scan began before
    the push it found (the inventory is dated at the scan's start). 0.05 s: rounding."""
    v = entry["value"]
    age = entry["started_at"] - pushed_at
    dated_early = max(0.0, pushed_at - v["inventory_generated_at"])
    low = age - 1.05 - dated_early
    high = age + entry["duration_seconds"] + 0.05
    assert low <= v["lag_seconds"] <= high, (low, v["lag_seconds"], high)


def test_lag_follows_pushes_and_syncs(pair: Pair, start_exporter: Start) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.pusher.push_image("toolforge/node18", "latest")
    synced(pair)
    both = start_pair(pair, start_exporter)
    entry = both.settle()
    assert figures(entry) == IN_STEP
    assert entry["value"]["lag_seconds"] == 0
    assert entry["value"]["active_node"] == "registry-active"
    text = both.standby.metrics_text()
    for name in (
        "lag_seconds",
        "missing_tags",
        "mismatched_tags",
        "missing_repositories",
        "missing_blobs",
    ):
        assert value(text, f"registry_monitor_standby_{name}") == 0, name
    assert value(text, "registry_monitor_probe_success", probe="standby") == 1
    for exporter in (both.active, both.standby):
        lint = subprocess.run(
            ["promtool", "check", "metrics"],
            input=exporter.metrics_text(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (lint.returncode, lint.stdout, lint.stderr) == (0, "", "")
    on_active, on_standby = names(both.active.metrics_text()), names(text)
    assert on_active >= STORAGE_METRICS and not STANDBY_METRICS & on_active
    # the active watches its sync unit too: not installed there, so never run
    assert on_active & SYNC_METRICS == {
        "registry_monitor_sync_last_success_timestamp_seconds",
        "registry_monitor_sync_running",
        "registry_monitor_sync_timer_active",
    }
    assert on_standby >= STORAGE_METRICS | SYNC_METRICS | STANDBY_METRICS
    # the write probe's canary is in the active's inventory only, and is not counted missing
    served = requests.get(
        f"{both.active.url}/api/inventory", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert (
        "registry-monitor-canary"
        in decode([served.content], gzipped=False, max_bytes=10**6).repositories
    )
    assert not (pair.standby.v2 / "repositories" / "registry-monitor-canary").exists()

    pushed = pair.pusher.push_image("toolforge/php82", "latest")
    mtime = pair.tag_mtime("toolforge/php82", "latest")
    first = both.settle()
    assert figures(first) == (False, 1, 0, 1, 3)
    v = first["value"]
    assert (v["oldest_missing_tag"], v["examples"]) == (
        "toolforge/php82:latest",
        ["toolforge/php82:latest missing"],
    )
    assert_lag_of(first, mtime)

    def later() -> dict[str, Any] | None:
        e = both.standby.probe_status("standby")
        return e if e["ok"] and e["value"]["lag_seconds"] >= v["lag_seconds"] + 1.5 else None

    second = wait_until(later, 60, "lag to grow")
    assert_lag_of(second, mtime)  # grown with the clock, by the same bounds
    assert figures(second) == (False, 1, 0, 1, 3)

    synced(pair)
    entry = both.settle()
    assert figures(entry) == IN_STEP
    assert entry["value"]["lag_seconds"] == 0
    assert value(both.standby.metrics_text(), "registry_monitor_standby_lag_seconds") == 0
    # in step means the standby's own registry serves the image
    head = requests.head(
        f"{pair.standby.url}/v2/toolforge/php82/manifests/latest",
        headers={"Accept": DOCKER_MANIFEST},
        timeout=5,
    )
    assert (head.status_code, head.headers["Docker-Content-Digest"]) == (200, pushed.digest)


def test_a_moved_tag_is_mismatched(pair: Pair, start_exporter: Start) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    synced(pair)
    both = start_pair(pair, start_exporter)
    assert figures(both.settle()) == IN_STEP
    pair.pusher.push_image("toolforge/python311", "latest", layers=[b"rebuilt layer"])
    mtime = pair.tag_mtime("toolforge/python311", "latest")
    entry = both.settle()
    # new layer and new manifest; the config is the same
    assert figures(entry) == (False, 0, 1, 0, 2)
    v = entry["value"]
    assert v["examples"] == ["toolforge/python311:latest points to another manifest"]
    age = entry["started_at"] - mtime
    assert age - 1.05 <= v["lag_seconds"] <= age + entry["duration_seconds"] + 0.05
    synced(pair)
    assert figures(both.settle()) == IN_STEP


def test_a_blob_lost_on_the_standby(pair: Pair, start_exporter: Start) -> None:
    image = pair.pusher.push_image("toolforge/python311", "latest")
    synced(pair)
    both = start_pair(pair, start_exporter)
    assert figures(both.settle()) == IN_STEP
    layer = image.blobs[1]
    shutil.rmtree(pair.standby.v2 / "blobs/sha256" / layer[7:9] / layer[7:])
    storage = both.standby_storage()["value"]["scan"]
    why = f"blob {layer} of manifest {image.digest} missing"
    assert (storage["dangling_references"], storage["dangling_examples"]) == (
        2,
        [f"toolforge/python311:latest: {why}", f"toolforge/python311@{image.digest}: {why}"],
    )
    assert value(both.standby.metrics_text(), "registry_monitor_storage_dangling_references") == 2
    entry = both.settle()
    # the tag is on disk, but a failover could not serve it: it counts as missing
    assert figures(entry) == (False, 1, 0, 0, 1)
    assert entry["value"]["local_dangling_references"] == 2
    assert (
        entry["value"]["lag_seconds"]
        >= entry["started_at"] - pair.tag_mtime("toolforge/python311", "latest") - 1.05
    )
    synced(pair)
    assert figures(both.settle()) == IN_STEP
    assert both.standby_storage()["value"]["scan"]["dangling_references"] == 0


def test_half_synced_standby_is_not_in_step(pair: Pair, start_exporter: Start) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.pusher.push_image("toolforge/node18", "latest")
    synced(pair, REPOS)  # the tag links arrived, the blobs not yet
    both = start_pair(pair, start_exporter)
    storage = both.standby_storage()["value"]["scan"]
    assert (storage["tags"], storage["manifests"], storage["blobs"]) == (2, 2, 0)
    assert storage["dangling_references"] == 4
    entry = both.settle()
    assert figures(entry) == (False, 2, 0, 0, 6)
    assert entry["value"]["lag_seconds"] > 0
    text = both.standby.metrics_text()
    assert value(text, "registry_monitor_standby_missing_tags") == 2
    assert value(text, "registry_monitor_storage_dangling_references") == 4
    synced(pair, BLOBS)
    assert figures(both.settle()) == IN_STEP


def test_active_unreachable_fails_the_probe_and_invents_no_lag(
    pair: Pair, start_exporter: Start
) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    synced(pair)
    both = start_pair(pair, start_exporter)
    assert figures(both.settle()) == IN_STEP
    both.active.stop()
    entry = both.standby.wait_reading("standby", newer_than=time.time())
    assert (entry["ok"], entry["error"]) == (
        False,
        f"active exporter {both.active.url}/api/inventory unreachable: connection refused",
    )
    # what the active said at its last answer, kept for the failover answer, never a lag
    # measured now: the standby_* series are absent
    kept = entry["value"]
    assert (kept["response"], kept["in_step"], kept["missing_tags"]) == ("no answer", True, 0)
    # kept from a run that ended before this one began
    assert kept["known_at"] <= kept["answered_at"] <= entry["started_at"]
    text = both.standby.metrics_text()
    assert value(text, "registry_monitor_probe_success", probe="standby") == 0
    for name in (
        "lag_seconds",
        "missing_tags",
        "mismatched_tags",
        "missing_repositories",
        "missing_blobs",
    ):
        assert value(text, f"registry_monitor_standby_{name}") is None, name


def test_wrong_token_on_the_standby(pair: Pair, start_exporter: Start) -> None:
    active = start_exporter(pair.config("active", pair.active), wait_for=("storage",), name="a")
    standby = start_exporter(
        pair.config(
            "standby",
            pair.standby,
            active_exporter_url=active.url,
            api_token="other-0123456789abcdef",
        ),
        name="b",
    )
    entry = standby.wait_reading("standby")
    assert (entry["ok"], entry["error"]) == (
        False,
        f"active exporter {active.url}/api/inventory refused the request (401): "
        "set the same api_token on both",
    )
