"""Faults of the pair, on real registries, real rsync and both real exporters: the standby's
data directory deleted while it is being scanned, the active's exporter restarted while the
standby compares."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from testbed.exporter import Exporter
from testbed.waiting import wait_until
from tests.support.pair import Pair
from tests.test_standby_pair import IN_STEP, figures

Start = Callable[..., Exporter]


def active_config(pair: Pair) -> dict[str, Any]:
    """The active's exporter scanning often, its write probe at its usual pace: a canary
    upload in flight would make a sync exit 24 (files vanished), as it may in production."""
    config = pair.config("active", pair.active)
    config["intervals"] = config["timeouts"] = {"storage": 0.5}
    return config


def test_standby_data_dir_deleted_mid_scan(pair: Pair, start_exporter: Start) -> None:
    for n in range(12):
        pair.pusher.push_image(f"toolforge/image{n:02d}", "latest")
    active = start_exporter(active_config(pair), wait_for=("storage", "write"), name="a")
    pair.synced()  # with the write probe's canary repository
    config = pair.config("standby", pair.standby, active_exporter_url=active.url)
    config["intervals"] = config["timeouts"] = {"storage": 0.5, "standby": 1, "sync": 1}
    config["storage_full_scan_seconds"] = 0.5  # every run a full scan, over each stage
    standby = start_exporter(config, wait_for=("storage", "standby"), name="b")
    before = standby.wait_reading("storage", newer_than=time.time())["value"]["scan"]
    assert (before["repositories"], before["tags"], before["dangling_references"]) == (13, 12, 0)
    pid = standby.daemon.proc.pid if standby.daemon.proc else None

    # Remove the tree file by file, letting scans run over the stages of the half-deleted
    # tree, then the directories.
    data = pair.standby.data_dir
    seen: list[dict[str, Any]] = []
    files = [Path(d) / f for d, _, fs in os.walk(data, topdown=False) for f in fs]
    for i, path in enumerate(files):
        path.unlink()
        if i % 8 == 0:
            seen.append(standby.wait_reading("storage", newer_than=time.time()))
    shutil.rmtree(data)
    gone = standby.wait_reading("storage", newer_than=time.time())
    lacking = standby.wait_reading("standby", newer_than=time.time())

    for entry in seen:  # a partial tree is a partial reading, never an exception
        assert entry["ok"], entry["error"]
        scan = entry["value"]["scan"]
        assert 0 <= scan["repositories"] <= before["repositories"]
        assert 0 <= scan["blobs"] <= before["blobs"]
        assert 0 <= scan["tags"] <= before["tags"]
        assert 0 <= scan["dangling_references"] <= scan["tags"] + scan["manifests"]
    stages = {tuple(e["value"]["scan"][k] for k in ("repositories", "tags", "blobs")) for e in seen}
    assert len(stages) >= 3, stages
    assert (gone["ok"], gone["value"], gone["error"]) == (
        False,
        None,
        f"data directory {data} does not exist",
    )
    assert (lacking["ok"], lacking["error"]) == (False, f"data directory {data} does not exist")
    assert standby.healthy()

    pair.synced()  # the next sync recreates it
    back = standby.wait_reading("storage", newer_than=time.time())
    assert back["ok"], back["error"]
    scan = back["value"]["scan"]
    assert (scan["repositories"], scan["tags"], scan["blobs"], scan["dangling_references"]) == (
        13,
        12,
        before["blobs"],
        0,
    )
    assert figures(standby.wait_reading("standby", newer_than=time.time())) == IN_STEP
    assert standby.daemon.proc is not None and standby.daemon.proc.pid == pid
    standby.stop()
    assert "Traceback" not in (pair.root / "b" / "exporter.log").read_text()


def test_active_exporter_restarted_while_the_standby_compares(
    pair: Pair, start_exporter: Start
) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.synced()
    active = start_exporter(active_config(pair), wait_for=("storage", "write"), name="a")
    config = pair.config("standby", pair.standby, active_exporter_url=active.url)
    config["intervals"] = config["timeouts"] = {"storage": 0.5, "standby": 1, "sync": 1}
    standby = start_exporter(config, wait_for=("standby",), name="b")
    first = standby.wait_reading("standby", newer_than=time.time())
    assert figures(first) == IN_STEP

    pair.pusher.push_image("toolforge/new", "latest")  # not on the standby yet
    link = pair.active.v2 / "repositories/toolforge/new/_manifests/tags/latest/current/link"
    mtime = link.stat().st_mtime

    def lagging() -> dict[str, Any] | None:
        entry = standby.wait_reading("standby", newer_than=time.time())
        return entry if entry["ok"] and entry["value"]["missing_tags"] == 1 else None

    entry = wait_until(lagging, 20, "the standby to see the new push")
    cached = standby.wait_reading("standby", newer_than=entry["started_at"])
    assert cached["value"]["response"] == "304 not modified"

    active.stop()
    stopped = time.time()
    down = standby.wait_reading("standby", newer_than=stopped)
    assert (down["ok"], down["error"]) == (
        False,
        f"active exporter {active.url}/api/inventory unreachable: connection refused",
    )
    # what the active said at its last answer, kept for the failover answer
    assert (down["value"]["response"], down["value"]["missing_tags"]) == ("no answer", 1)
    restarted = time.time()
    active.start()  # same port and config; its first scan makes a new inventory

    seen: list[dict[str, Any]] = []

    def compared_again() -> dict[str, Any] | None:
        entry = standby.wait_reading(
            "standby", newer_than=seen[-1]["started_at"] if seen else restarted
        )
        seen.append(entry)
        return entry if entry["ok"] else None

    after = wait_until(compared_again, 20, "a comparison with the restarted active")
    for entry in seen[:-1]:  # still down, or up before its first scan: a clear refusal
        assert entry["error"] in (
            down["error"],
            f"active exporter {active.url}/api/inventory answered HTTP 503: "
            '{"error":"no storage scan has finished yet; the inventory exists after the first"}',
        )
    v = after["value"]
    assert (v["response"], v["missing_tags"], v["oldest_missing_tag"]) == (
        "200",
        1,
        "toolforge/new:latest",
    )
    # the lag is the push's age, measured across the restart: not reset, never negative
    # (within the second that HTTP's Age header is counted in)
    again = standby.wait_reading("standby", newer_than=after["started_at"])
    assert again["value"]["response"] == "304 not modified"
    for entry in (after, again):
        finished = entry["started_at"] + entry["duration_seconds"]
        lag = entry["value"]["lag_seconds"]
        assert entry["started_at"] - mtime - 1.0 <= lag <= finished - mtime + 0.01

    pair.synced()

    def in_step() -> dict[str, Any] | None:
        entry = standby.wait_reading("standby", newer_than=time.time())
        return entry if entry["ok"] and entry["value"]["in_step"] else None

    settled = wait_until(in_step, 20, "the standby in step after the sync")
    assert (settled["value"]["lag_seconds"], figures(settled)) == (0.0, IN_STEP)
    assert requests.get(f"{standby.url}/healthz", timeout=5).status_code == 200
