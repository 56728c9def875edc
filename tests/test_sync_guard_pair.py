"""The sync guard on a real pair: `check_registry sync-guard` run as the sync unit runs it
(ExecStartPre, then the real `rsync --delete` only when it exits 0), against a real
rsync daemon and the active's real exporter. What each refused run would have erased
is counted on the standby's disk before and after."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from testbed.exporter import Exporter
from testbed.images import DOCKER_MANIFEST, Pusher
from testbed.rsync import RsyncDaemon
from testbed.waiting import closed_port, wait_until
from tests.support.check import CheckRun, run_check, write_config
from tests.support.metrics import value
from tests.support.pair import Pair

Start = Callable[..., Exporter]
REPOSITORIES = ("toolforge/python311", "toolforge/node18", "toolforge/php82", "tool/bot")
TAGS_EACH = 6  # 24 tags: one deleted is 4 %, under the default 5 %


def tag_links(data_dir: Path) -> set[str]:
    root = data_dir / "docker/registry/v2/repositories"
    return {
        str(p.relative_to(root))
        for p in root.glob("**/_manifests/tags/*/current/link")
        if p.is_file()
    }


def blob_files(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "docker/registry/v2/blobs").glob("sha256/*/*/data"))


def fill(pusher: Pusher) -> None:
    for repo in REPOSITORIES:
        image = pusher.push_image(repo, "t0")
        for i in range(1, TAGS_EACH):
            pusher.put_manifest(repo, f"t{i}", image.manifest, DOCKER_MANIFEST)


def guard_config(pair: Pair, active: Exporter, source: str, **guard: Any) -> Path:
    config = pair.config(
        "standby",
        pair.standby,
        active_exporter_url=active.url,
        sync_guard={"source": source, **guard},
    )
    return write_config(pair.root / f"guard-{time.monotonic_ns()}.yaml", config)


def unit_run(pair: Pair, config: Path, source: str | None = None) -> tuple[CheckRun, int | None]:
    """The sync unit: ExecStartPre= the guard, then rsync only if the guard exited 0."""
    guard = run_check(config, "sync-guard")
    if guard.exit_code != 0:
        return guard, None
    if source is not None:
        pair.sync.url = source
    return guard, pair.sync.run().returncode


def guard_state(pair: Pair) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pair.root / "state-standby/sync-guard.json").read_text())
    return data


@contextmanager
def empty_source(tmp_path: Path, mount_name: str = "empty") -> Iterator[RsyncDaemon]:
    """A real rsync daemon serving the module from an empty directory: an active whose
    data volume is not mounted."""
    mount_point = tmp_path / mount_name
    mount_point.mkdir()
    empty = RsyncDaemon(tmp_path / "rsyncd-empty", mount_point).start()
    try:
        yield empty
    finally:
        empty.stop()


def in_step(pair: Pair, start: Start) -> Exporter:
    fill(pair.pusher)
    began = time.time()
    pair.synced()
    exporter = start(pair.config("active", pair.active), wait_for=("storage",), name="exp-active")
    # systemd gives the sync's start to the second, and a push in that second counts as
    # before it: the tests' pushes come from the next second on
    wait_until(lambda: time.time() >= int(began) + 1, 5, "the second after the sync began")
    return exporter


def test_a_normal_sync_is_allowed_and_runs(pair: Pair, start_exporter: Start) -> None:
    active = in_step(pair, start_exporter)
    pair.pusher.push_image("toolforge/jdk17", "latest")  # a push since: added, nothing deleted
    config = guard_config(pair, active, pair.sync.url)
    guard, rsync = unit_run(pair, config)
    assert (guard.exit_code, guard.state, rsync) == (0, "OK", 0), guard.stdout
    assert guard.text.startswith("sync allowed: it deletes 0 of 24 tags, 0 of 12 blobs here")
    assert guard.perf("deleted_tags").value == 0
    assert guard.perf("divergent_tags").value == 0
    assert "toolforge/jdk17/_manifests/tags/latest/current/link" in tag_links(pair.standby.data_dir)
    assert (
        not (pair.root / "state-standby/sync-guard.json").exists()
        or guard_state(pair)["refusals"] == {}
    )


def test_an_empty_source_is_refused_and_nothing_is_erased(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    active = in_step(pair, start_exporter)
    before_tags, before_blobs = tag_links(pair.standby.data_dir), blob_files(pair.standby.data_dir)
    assert len(before_tags) == 24
    # the active rebooted without its data volume: the rsync daemon serves the empty mount point
    with empty_source(tmp_path, "unmounted-srv-registry") as empty:
        config = guard_config(pair, active, empty.url)
        guard, rsync = unit_run(pair, config, empty.url)
    assert (guard.exit_code, guard.state, rsync) == (2, "CRITICAL", None), guard.stdout
    assert guard.text.startswith(
        f"sync REFUSED: source_shrunk: the source {empty.url} holds no repositories: the sync "
        "would erase all 4 repositories, 24 tags and 12 blobs here (is the active's data "
        "volume mounted?) (override once: check_registry sync-guard --allow-once REASON)"
    )
    assert guard.perf("deleted_tags").value == 24
    assert tag_links(pair.standby.data_dir) == before_tags
    assert blob_files(pair.standby.data_dir) == before_blobs
    state = guard_state(pair)
    assert state["refusals"] == {"source_shrunk": 1}
    assert state["last_refusal"]["reasons"] == ["source_shrunk"]


def test_a_shrunk_source_is_refused_past_the_limit_and_allowed_under_it(
    pair: Pair, start_exporter: Start
) -> None:
    active = in_step(pair, start_exporter)
    # a repository deleted by hand on the active: 6 of 24 tags (25 %)
    gone = pair.active.v2 / "repositories/tool/bot"
    for path in sorted(gone.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    gone.rmdir()
    before = tag_links(pair.standby.data_dir)

    guard, rsync = unit_run(pair, guard_config(pair, active, pair.sync.url))
    assert (guard.exit_code, rsync) == (2, None), guard.stdout
    assert "source_shrunk: the sync would delete 6 of this node's 24 tags (25.0%, more than " in (
        guard.text
    )
    # the first examples in rsync's own order of deletion
    assert "sync_guard.max_delete_percent 5%) (e.g. tool/bot:t5, tool/bot:t4, tool/bot:t3)" in (
        guard.text
    )
    assert tag_links(pair.standby.data_dir) == before

    # the same deletion under a limit the operators set above it: allowed, and rsync runs
    guard, rsync = unit_run(pair, guard_config(pair, active, pair.sync.url, max_delete_percent=30))
    assert (guard.exit_code, rsync) == (0, 0), guard.stdout
    assert guard.text.startswith("sync allowed: it deletes 6 of 24 tags,")
    assert tag_links(pair.standby.data_dir) == {t for t in before if not t.startswith("tool/bot/")}


def test_pushes_held_only_here_are_refused(pair: Pair, start_exporter: Start) -> None:
    active = in_step(pair, start_exporter)
    Pusher(pair.standby.url).push_image("toolforge/hotfix", "v1")  # DNS still on the standby
    # its 3 blobs are 20 % of the standby's: the limit is raised so that divergence alone
    # refuses the run (one tag of 25 is 4 %)
    config = guard_config(pair, active, pair.sync.url, max_delete_percent=50)
    guard, rsync = unit_run(pair, config)
    assert (guard.exit_code, rsync) == (2, None), guard.stdout
    assert guard.text.startswith(
        "sync REFUSED: divergent_content: 1 tags in 1 repositories only here were pushed to "
        "this node since the last sync began (toolforge/hotfix:v1 only on this node): the sync "
        "would erase them (override once: check_registry sync-guard --allow-once REASON)"
    )
    assert guard.perf("divergent_tags").value == 1
    assert "toolforge/hotfix/_manifests/tags/v1/current/link" in tag_links(pair.standby.data_dir)
    assert guard_state(pair)["refusals"] == {"divergent_content": 1}

    # under the default limit the blobs it would delete refuse the run as well
    guard, rsync = unit_run(pair, guard_config(pair, active, pair.sync.url))
    assert (guard.exit_code, rsync) == (2, None), guard.stdout
    assert "source_shrunk: the sync would delete 3 of this node's 15 blobs (20.0%" in guard.text
    assert guard_state(pair)["refusals"] == {"divergent_content": 2, "source_shrunk": 1}


def test_allow_once_lets_exactly_one_run_through(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    active = in_step(pair, start_exporter)
    with empty_source(tmp_path) as empty:
        config = guard_config(pair, active, empty.url)
        assert run_check(config, "sync-guard").exit_code == 2
        written = run_check(config, "sync-guard", "--allow-once", "restoring from backup T123")
        assert (written.exit_code, written.state) == (0, "OK"), written.stdout
        assert "sync-guard exemption 'restoring from backup T123' by " in written.text
        assert (pair.root / "state-standby/sync-guard-allow-once.json").exists()

        first = run_check(config, "sync-guard")
        second = run_check(config, "sync-guard")
    assert (first.exit_code, first.state) == (0, "OK"), first.stdout
    assert first.text.startswith("sync allowed once by exemption 'restoring from backup T123' (by ")
    assert first.text.endswith(", overriding source_shrunk")
    assert not (pair.root / "state-standby/sync-guard-allow-once.json").exists()
    assert second.exit_code == 2, second.stdout
    state = guard_state(pair)
    assert state["refusals"] == {"source_shrunk": 2}  # the exempted run is not a refusal
    assert state["last_exemption"]["overrode"] == ["source_shrunk"]


def test_the_active_refuses_without_measuring(pair: Pair) -> None:
    config = write_config(
        pair.root / "active.yaml", pair.config("active", pair.active, sync_guard={})
    )
    guard = run_check(config, "sync-guard")
    assert (guard.exit_code, guard.state) == (2, "CRITICAL"), guard.stdout
    assert guard.text.startswith(
        "sync REFUSED: role_active: this node (registry-active) has role active: a sync here "
        "pulls from the other node and erases this node's pushes"
    )


def test_what_cannot_be_measured_follows_when_unknown(pair: Pair, start_exporter: Start) -> None:
    fill(pair.pusher)
    pair.synced()
    dead = f"http://127.0.0.1:{closed_port()}"  # no exporter: the divergence is not measured
    base = pair.config("standby", pair.standby, active_exporter_url=dead)
    allow = write_config(
        pair.root / "allow.yaml", {**base, "sync_guard": {"source": pair.sync.url}}
    )
    guard = run_check(allow, "sync-guard")
    assert (guard.exit_code, guard.state) == (0, "OK"), guard.stdout
    assert "; not measured: pushes held only here (the active's inventory): active exporter " in (
        guard.text
    )
    refuse = write_config(
        pair.root / "refuse.yaml",
        {**base, "sync_guard": {"source": pair.sync.url, "when_unknown": "refuse"}},
    )
    guard = run_check(refuse, "sync-guard")
    assert (guard.exit_code, guard.state) == (3, "UNKNOWN"), guard.stdout
    assert guard.text.startswith(
        "sync REFUSED: not_measured: sync_guard.when_unknown is refuse, and pushes held only "
        "here (the active's inventory): active exporter "
    )


def test_a_source_rsync_cannot_reach_is_not_measured_and_the_sync_would_fail_too(
    pair: Pair, start_exporter: Start
) -> None:
    active = in_step(pair, start_exporter)
    closed = f"rsync://127.0.0.1:{closed_port()}/docker-registry-sync/"
    guard, rsync = unit_run(pair, guard_config(pair, active, closed), closed)
    assert (guard.exit_code, guard.state) == (0, "OK"), guard.stdout
    assert guard.text.startswith(
        f"sync allowed; not measured: what the sync would delete (rsync --dry-run): rsync "
        f"--dry-run from {closed} exited 10: "
    )
    assert rsync == 10  # the real run fails the same way: nothing is erased
    assert len(tag_links(pair.standby.data_dir)) == 24


def test_a_refusal_shows_in_the_sync_check_and_metrics(
    pair: Pair, start_exporter: Start, tmp_path: Path
) -> None:
    active = in_step(pair, start_exporter)
    with empty_source(tmp_path) as empty:
        refused = run_check(guard_config(pair, active, empty.url), "sync-guard")
    assert refused.exit_code == 2
    at = guard_state(pair)["last_refusal"]["at"]
    standby_config = pair.config("standby", pair.standby, active_exporter_url=active.url)
    sync = run_check(write_config(pair.root / "standby.yaml", standby_config), "sync", "-v")
    assert (sync.exit_code, sync.state) == (2, "CRITICAL"), sync.stdout
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    assert sync.text.startswith(f"the sync guard refused the run at {when}: sync REFUSED: ")

    standby = start_exporter(standby_config, wait_for=("sync",), name="exp-standby")
    text = standby.metrics_text()
    assert value(text, "registry_monitor_sync_guard_refusals_total", reason="source_shrunk") == 1
    assert value(text, "registry_monitor_sync_guard_refusals_total", reason="role_active") == 0
    assert value(text, "registry_monitor_sync_guard_last_refusal_timestamp_seconds") == at
