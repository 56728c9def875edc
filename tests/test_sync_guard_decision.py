"""The sync guard's judgement over its facts, and the exemption it keeps in state_dir.

The facts here are written by hand to reach each edge exactly (5 % is allowed, just
over it is not); tests/test_sync_guard_pair.py measures them on a real pair."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from registry_monitor.config import SyncGuard
from registry_monitor.judging.verdicts.sync_guard import judge_guard
from registry_monitor.probes.public_name import PublicName
from registry_monitor.probes.reading import Reading
from registry_monitor.sync_guard import record
from registry_monitor.sync_guard.decision import Decision, decide
from registry_monitor.sync_guard.dry_run import DryRun
from registry_monitor.sync_guard.measure import GuardFacts, LocalCounts, source_of
from registry_monitor.sync_guard.references import Needed

SOURCE = "rsync://reg-a1/docker-registry-sync/"
LOCAL = LocalCounts(repositories=10, tags=100, blobs=400)


def reading(name: str, value: Any = None, error: str | None = None) -> Reading[Any]:
    return Reading(name, 1.0, 0.1, value, error)


def facts(
    deleted_tags: int = 0,
    deleted_blobs: int = 0,
    local: LocalCounts | None = LOCAL,
    deleted_repositories: int = 0,
    added_repositories: int = 0,
    dry_run_error: str | None = None,
    public: Reading[Any] | None = None,
    needed: Reading[Any] | None = None,
) -> GuardFacts:
    run = DryRun(
        SOURCE, deleted_tags, deleted_blobs, deleted_repositories, 0, added_repositories, (), 0
    )
    return GuardFacts(
        "reg-a2",
        "standby",
        SOURCE,
        local=reading("local", local),
        dry_run=reading("dry_run", None if dry_run_error else run, dry_run_error),
        divergence=reading("divergence", None, "active exporter unreachable"),
        public=public,
        needed=needed,
    )


def reasons(d: Decision) -> list[str]:
    return [r.reason for r in d.refusals]


@pytest.mark.parametrize(
    ("deleted_tags", "deleted_blobs", "refused"),
    [(5, 0, False), (6, 0, True), (0, 20, False), (0, 21, True), (0, 0, False)],
)
def test_the_limit_is_a_share_of_this_nodes_tags_or_blobs(
    deleted_tags: int, deleted_blobs: int, refused: bool
) -> None:
    d = decide(facts(deleted_tags, deleted_blobs), SyncGuard(), None)
    assert (d.allowed, reasons(d)) == (not refused, ["source_shrunk"] if refused else [])


def test_a_source_without_repositories_is_refused_only_where_there_is_something_to_lose() -> None:
    d = decide(facts(100, 400, deleted_repositories=10), SyncGuard(max_delete_percent=100), None)
    assert reasons(d) == ["source_shrunk"]
    assert d.refusals[0].detail.startswith(f"the source {SOURCE} holds no repositories")
    # a new pair: nothing here yet, nothing on the source
    empty = decide(facts(local=LocalCounts(0, 0, 0)), SyncGuard(), None)
    assert (empty.allowed, empty.refusals) == (True, ())


def test_one_repository_replaced_by_another_is_not_an_empty_source() -> None:
    local = LocalCounts(1, 10, 40)
    d = decide(facts(0, 0, local, deleted_repositories=1, added_repositories=1), SyncGuard(), None)
    assert d.allowed


def test_what_could_not_be_measured_is_said_and_follows_when_unknown() -> None:
    unmeasured = facts(dry_run_error="rsync --dry-run from x exited 10: connection refused")
    allowed = decide(unmeasured, SyncGuard(), None)
    assert (allowed.allowed, allowed.refusals) == (True, ())
    assert allowed.unmeasured == (
        "what the sync would delete (rsync --dry-run): rsync --dry-run from x exited 10: "
        "connection refused",
        "pushes held only here (the active's inventory): active exporter unreachable",
    )
    verdict = judge_guard(allowed)
    assert (verdict.state.name, verdict.summary) == (
        "OK",
        "sync allowed; not measured: " + "; ".join(allowed.unmeasured),
    )
    refused = decide(unmeasured, SyncGuard(when_unknown="refuse"), None)
    assert reasons(refused) == ["not_measured"]
    assert judge_guard(refused).state.name == "UNKNOWN"


def test_deletions_that_cannot_be_weighed_are_unmeasured_not_allowed_silently() -> None:
    f = facts(deleted_tags=3)
    f = GuardFacts(f.node, f.role, f.source, reading("local", None, "scan failed"), f.dry_run)
    d = decide(f, SyncGuard(when_unknown="refuse"), None)
    assert reasons(d) == ["not_measured"]
    assert "to weigh 3 tags and 0 blobs the sync would delete: scan failed" in d.refusals[0].detail


def test_the_public_name_here_refuses() -> None:
    here = PublicName(
        "docker-registry.tools.wmflabs.org", True, ("10.0.0.2",), ("10.0.0.2",), "standby"
    )
    d = decide(facts(public=reading("public", here)), SyncGuard(), None)
    assert reasons(d) == ["this_node_is_public"]
    assert judge_guard(d).state.name == "CRITICAL"


def test_an_exemption_lets_a_refused_run_through_and_names_what_it_overrode() -> None:
    exemption = record.Exemption("restore T1", "alice", 1_700_000_000.0)
    d = decide(facts(50, 0), SyncGuard(), exemption)
    assert (d.allowed, d.exempted, reasons(d)) == (True, True, ["source_shrunk"])
    verdict = judge_guard(d)
    assert (verdict.state.name, verdict.summary) == (
        "OK",
        "sync allowed once by exemption 'restore T1' (by alice at 2023-11-14 22:13:20 UTC), "
        "overriding source_shrunk",
    )


def test_the_source_defaults_to_the_active_exporters_host() -> None:
    from registry_monitor.config import Config

    config = Config(node="n", active_exporter_url="http://reg-a1.example:9623")
    assert source_of(config) == "rsync://reg-a1.example/docker-registry-sync/"
    assert source_of(config.replace(active_exporter_url=None)) is None
    own = config.replace(sync_guard=SyncGuard(source="rsync://10.0.0.1:873/docker-registry-sync"))
    assert source_of(own) == "rsync://10.0.0.1:873/docker-registry-sync/"


def test_an_exemption_serves_one_run(tmp_path: Path) -> None:
    now = time.time()
    assert record.write_exemption(tmp_path, "restore", "alice", now) is None
    exemption, note = record.take_exemption(tmp_path, now + 5)
    assert (exemption, note) == (record.Exemption("restore", "alice", now), None)
    assert record.take_exemption(tmp_path, now + 6) == (None, None)


def test_a_stale_exemption_is_removed_unused(tmp_path: Path) -> None:
    now = time.time()
    record.write_exemption(tmp_path, "restore", "alice", now - record.ALLOW_ONCE_SECONDS - 1)
    exemption, note = record.take_exemption(tmp_path, now)
    assert exemption is None
    assert note is not None and note.endswith("not used and removed: older than 60 minutes")
    assert not (tmp_path / record.ALLOW_ONCE_FILE).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_an_exemption_written_by_another_user_is_not_used(tmp_path: Path) -> None:
    record.write_exemption(tmp_path, "restore", "exporter", time.time())
    os.chown(tmp_path / record.ALLOW_ONCE_FILE, 65534, 65534)
    exemption, note = record.take_exemption(tmp_path, time.time())
    assert exemption is None
    assert note is not None and "owned by uid 65534, not by the user the guard runs as" in note


def test_refusals_are_counted_by_reason_and_readable_by_the_exporter(tmp_path: Path) -> None:
    record.record_run(tmp_path, ("source_shrunk", "divergent_content"), "refused", None, 100.0)
    record.record_run(tmp_path, ("source_shrunk",), "refused again", None, 200.0)
    record.record_run(tmp_path, (), "allowed", None, 300.0)
    assert (tmp_path / record.STATE_FILE).stat().st_mode & 0o777 == 0o644
    history = record.load_history(tmp_path)
    assert (history.refusals, history.last_refusal_at, history.last_refusal) == (
        {"source_shrunk": 2, "divergent_content": 1},
        200.0,
        "refused again",
    )


def test_a_garbled_record_is_a_note_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / record.STATE_FILE).write_text(json.dumps({"refusals": {"x": "many"}})[:-3])
    history = record.load_history(tmp_path)
    assert (history.refusals, history.last_refusal_at) == ({}, None)
    assert history.note is not None and "is not usable" in history.note
    assert record.record_run(tmp_path, ("source_shrunk",), "refused", None, 5.0) is None
    assert record.load_history(tmp_path).refusals == {"source_shrunk": 1}


ONE_BLOB = Needed(
    blobs=1,
    revisions=0,
    layers=0,
    tags=2,
    examples=("toolforge/php82:t0 needs blob sha256:ab12",),
)


def test_one_blob_that_kept_tags_reference_is_refused_however_few() -> None:
    # 1 of 400 blobs: far under max_delete_percent; the tags still reference it
    d = decide(facts(0, 1, needed=reading("needed", ONE_BLOB)), SyncGuard(), None)
    assert (d.allowed, reasons(d), d.missing_referenced) == (
        False,
        ["source_missing_referenced"],
        1,
    )
    assert d.refusals[0].detail == (
        "the source lacks 1 blob(s) that 2 tag(s) it still holds reference "
        "(toolforge/php82:t0 needs blob sha256:ab12): its content is damaged, and the sync "
        "would delete this node's intact copy"
    )
    verdict = judge_guard(d)
    assert verdict.state.name == "CRITICAL"
    assert [(p.label, p.value) for p in verdict.perfdata if p.label == "missing_referenced"] == [
        ("missing_referenced", 1)
    ]


def test_every_kind_of_missing_piece_is_named() -> None:
    needed = Needed(blobs=2, revisions=1, layers=3, tags=4, examples=("a:b needs x",))
    d = decide(facts(0, 2, needed=reading("needed", needed)), SyncGuard(), None)
    assert reasons(d) == ["source_missing_referenced"]
    assert d.refusals[0].detail.startswith(
        "the source lacks 2 blob(s) and 1 manifest revision link(s) and 3 _layers link(s) "
        "that 4 tag(s) it still holds reference (a:b needs x)"
    )
    assert d.missing_referenced == 6


def test_deletions_no_kept_tag_references_are_allowed() -> None:
    nothing = Needed(0, 0, 0, 0, ())
    d = decide(facts(1, 3, needed=reading("needed", nothing)), SyncGuard(), None)
    assert (d.allowed, d.refusals, d.missing_referenced) == (True, (), 0)


def test_a_reference_check_that_failed_follows_when_unknown() -> None:
    failed = reading("needed", None, "still weighing tags at the deadline (512 weighed)")
    allowed = decide(facts(0, 1, needed=failed), SyncGuard(), None)
    assert (allowed.allowed, allowed.missing_referenced) == (True, None)
    assert allowed.unmeasured[0] == (
        "whether the sync deletes what the source's tags reference: still weighing tags at "
        "the deadline (512 weighed)"
    )
    refused = decide(facts(0, 1, needed=failed), SyncGuard(when_unknown="refuse"), None)
    assert reasons(refused) == ["not_measured"]
    assert refused.refusals[0].detail.startswith(
        "sync_guard.when_unknown is refuse, and whether the sync deletes what the source's "
        "tags reference: still weighing"
    )
