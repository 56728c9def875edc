"""Content only the standby has, on a real pair: pushes to the standby are counted and
named, then erased by the real `rsync --delete`; pending deletions and canaries are not."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.rsync import SyncUnit
from tests.support.check import run_check, write_config
from tests.support.metrics import value
from tests.support.pair import Pair

Start = Callable[..., Exporter]
TAGS = "docker/registry/v2/repositories/{}/_manifests/tags/{}/current/link"


def when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def link(root: Path, repo: str, tag: str) -> Path:
    return root / TAGS.format(repo, tag)


def exporters(pair: Pair, start: Start, **standby: Any) -> tuple[Exporter, Exporter]:
    active = start(pair.config("active", pair.active), wait_for=("storage",), name="exp-active")
    config = pair.config("standby", pair.standby, active_exporter_url=active.url, **standby)
    return active, start(config, wait_for=("sync", "standby"), name="exp-standby")


def settled(active: Exporter, standby: Exporter, after: float) -> dict[str, Any]:
    """The first standby reading after an active scan that began after `after`."""
    scan = active.wait_reading("storage", newer_than=after)
    done = scan["started_at"] + scan["duration_seconds"]
    entry = standby.wait_reading("standby", newer_than=done)
    assert entry["ok"], entry["error"]
    value: dict[str, Any] = entry["value"]
    return value


def test_pushes_to_the_standby_are_divergent_until_a_sync_erases_them(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    pair.synced()
    active, standby = exporters(pair, start_exporter)
    status = settled(active, standby, time.time())
    assert (status["divergent_tags"], status["divergent_repositories"]) == (0, 0)

    # DNS still pointing at the standby: a new image and a re-push of an existing tag
    on_standby = Pusher(pair.standby.url)
    on_standby.push_image("toolforge/hotfix", "v1")
    on_standby.push_image("toolforge/python311", "latest", layers=[b"rebuilt on the standby"])
    pushed = time.time()
    hotfix_at = link(pair.standby.data_dir, "toolforge/hotfix", "v1").stat().st_mtime
    rebuilt_at = link(pair.standby.data_dir, "toolforge/python311", "latest").stat().st_mtime

    # the first standby reading after a scan of its own tree that began after the pushes
    # (between scans the standby reuses its last look for LOCAL_MAX_AGE seconds)
    scan = standby.wait_reading("storage", newer_than=pushed)
    entry = standby.wait_reading(
        "standby", newer_than=scan["started_at"] + scan["duration_seconds"]
    )
    assert entry["ok"], entry["error"]
    status = entry["value"]
    assert (status["divergent_tags"], status["divergent_repositories"]) == (2, 1)
    assert status["divergent_examples"] == [
        {
            "repository": "toolforge/python311",
            "tag": "latest",
            "pushed_at": rebuilt_at,
            "why": "newer here than the active's",
        },
        {
            "repository": "toolforge/hotfix",
            "tag": "v1",
            "pushed_at": hotfix_at,
            "why": "only on this node",
        },
    ]
    text = standby.metrics_text()
    assert value(text, "registry_monitor_standby_divergent_tags") == 2
    assert value(text, "registry_monitor_standby_divergent_repositories") == 1

    config = write_config(
        tmp_path / "standby.yaml",
        pair.config("standby", pair.standby, active_exporter_url=active.url),
    )
    run = run_check(config, "standby", "-v")
    assert (run.exit_code, run.text) == (
        2,
        "2 tags pushed to this standby (1 repositories the active lacks): "
        "the next sync erases them",
    )
    at = run.long.index(
        "[CRITICAL] 2 tags pushed to this standby (1 repositories the active lacks): "
        "the next sync erases them"
    )
    assert run.long[at + 1 : at + 3] == [
        f"- toolforge/python311:latest pushed {when(rebuilt_at)}, newer here than the active's",
        f"- toolforge/hotfix:v1 pushed {when(hotfix_at)}, only on this node",
    ]
    assert (run.perf("divergent_tags").value, run.perf("divergent_tags").crit) == (2, "0")

    # the loss the alert warns of: the next sync erases the push and overwrites the re-push
    pair.synced()
    assert not link(pair.standby.data_dir, "toolforge/hotfix", "v1").exists()
    assert link(pair.standby.data_dir, "toolforge/python311", "latest").read_bytes() == (
        link(pair.active.data_dir, "toolforge/python311", "latest").read_bytes()
    )
    synced = time.time()
    standby.wait_reading("sync", newer_than=synced)  # the new sync start in the state file
    status = settled(active, standby, synced)
    assert (status["divergent_tags"], status["divergent_repositories"]) == (0, 0)
    assert status["divergent_examples"] == []


def test_a_tag_deleted_on_the_active_is_a_pending_deletion_not_divergent(
    pair: Pair, start_exporter: Start
) -> None:
    pair.pusher.push_image("toolforge/python311", "latest")
    old = pair.pusher.push_image("toolforge/php74", "latest")
    pair.synced()
    # the standby's own write probe pushes its canary blob here, and a tagged canary in the
    # canary repository: monitoring, not data
    active, standby = exporters(pair, start_exporter, write_probe=True)
    standby.wait_reading("write", newer_than=time.time())
    Pusher(pair.standby.url).push_image("registry-monitor-canary", "probe")

    pair.pusher.delete_manifest("toolforge/php74", old.digest)  # registry API delete
    deleted = time.time()
    status = settled(active, standby, deleted)
    assert link(pair.standby.data_dir, "toolforge/php74", "latest").exists()  # until the sync
    assert (status["divergent_tags"], status["divergent_repositories"]) == (0, 0), status
    assert status["divergent_since"] is not None
    assert value(standby.metrics_text(), "registry_monitor_standby_divergent_tags") == 0

    pair.synced()
    assert not link(pair.standby.data_dir, "toolforge/php74", "latest").exists()


def test_an_active_with_the_sync_timer_left_on(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    """After a failover the old standby's timer stays on: its metrics and its check say so."""
    left_on = SyncUnit(pair.active_systemd, pair.sync.url, pair.active.data_dir)
    active = start_exporter(
        pair.config("active", pair.active), wait_for=("sync",), name="exp-active"
    )
    text = active.metrics_text()
    assert value(text, "registry_monitor_sync_timer_active") == 1
    assert value(text, "registry_monitor_sync_running") == 0
    config = write_config(tmp_path / "active.yaml", pair.config("active", pair.active))
    run = run_check(config, "sync")
    assert (run.exit_code, run.text) == (
        2,
        f"{left_on.timer} active on the active: {left_on.unit} will pull from the other node "
        f"and erase this node's new pushes (systemctl disable --now {left_on.timer})",
    )
    left_on.set_timer(active=False)
    assert run_check(config, "sync").exit_code == 0
