"""The sync guard against a damaged source, on a real pair: a blob or a manifest revision
deleted by hand on the active (tags it still serves need them) refuses the run, and the
standby keeps the only intact copy; deletions made through the API and a garbage
collection, at the pace operators make them, are still allowed and synced.

The pair here is small (a dozen blobs), so one blob is over the default 5 %: the limit is
raised so that the reference check alone is judged, as on a real store of thousands."""

from __future__ import annotations

import json
import time
from pathlib import Path

from testbed.images import Pusher
from testbed.waiting import wait_until
from tests.support.pair import Pair
from tests.test_sync_guard_pair import Start, guard_config, guard_state, in_step, unit_run

LIMIT = {"max_delete_percent": 50}


def manifest_of(v2: Path, repo: str, tag: str) -> tuple[str, dict[str, object]]:
    link = v2 / "repositories" / repo / "_manifests/tags" / tag / "current/link"
    digest = link.read_text().removeprefix("sha256:")
    return digest, json.loads(blob(v2, digest).read_bytes())


def blob(v2: Path, digest: str) -> Path:
    digest = digest.removeprefix("sha256:")
    return v2 / "blobs/sha256" / digest[:2] / digest / "data"


def layer_of(v2: Path, repo: str, tag: str) -> str:
    _, manifest = manifest_of(v2, repo, tag)
    layers = manifest["layers"]
    assert isinstance(layers, list)
    return str(layers[-1]["digest"]).removeprefix("sha256:")


def blob_names(v2: Path) -> set[str]:
    return {p.parent.name for p in (v2 / "blobs").glob("sha256/*/*/data")}


def test_a_blob_and_a_revision_deleted_by_hand_on_the_active_are_refused(
    pair: Pair, start_exporter: Start
) -> None:
    active = in_step(pair, start_exporter)
    layer = layer_of(pair.active.v2, "toolforge/php82", "t0")
    blob(pair.active.v2, layer).unlink()
    blob(pair.active.v2, layer).parent.rmdir()
    manifest, _ = manifest_of(pair.active.v2, "toolforge/node18", "t0")
    revision = pair.active.v2 / "repositories/toolforge/node18/_manifests/revisions/sha256"
    (revision / manifest / "link").unlink()
    kept = blob(pair.standby.v2, layer).read_bytes()

    guard, rsync = unit_run(pair, guard_config(pair, active, pair.sync.url, **LIMIT))
    assert (guard.exit_code, guard.state, rsync) == (2, "CRITICAL", None), guard.stdout
    assert guard.text.startswith(
        "sync REFUSED: source_missing_referenced: the source lacks 1 blob(s) and 1 manifest "
        "revision link(s) that 12 tag(s) it still holds reference ("
    )
    assert (
        f"(toolforge/node18:t0 needs manifest revision sha256:{manifest}; "
        f"toolforge/php82:t0 needs blob sha256:{layer}): its content is damaged, and the sync "
        "would delete this node's intact copy (override once: " in guard.text
    )
    assert guard.perf("missing_referenced").value == 2
    assert guard_state(pair)["refusals"] == {"source_missing_referenced": 1}
    # the standby keeps the only intact copies: the repair's source
    assert blob(pair.standby.v2, layer).read_bytes() == kept
    standby_revision = pair.standby.v2 / "repositories/toolforge/node18/_manifests/revisions"
    assert (standby_revision / "sha256" / manifest / "link").is_file()


def test_deletions_through_the_api_and_a_garbage_collection_are_allowed(
    pair: Pair, start_exporter: Start
) -> None:
    active = in_step(pair, start_exporter)
    pusher = Pusher(pair.active.url)
    old = pusher.push_image("toolforge/app", "v1")
    retired = pusher.push_image("toolforge/retired", "v1")
    pushed = time.time()
    pair.synced()
    # the tag link keeps its size when pushed anew, and rsync's quick check (size and
    # whole-second mtime) would take one rewritten within the same second for unchanged
    wait_until(lambda: time.time() >= int(pushed) + 1, 5, "the second after the push")
    # the tag pushed anew (a rebuilt layer), the old image deleted by digest; a retired
    # image deleted by digest (its tag with it); then a garbage collection on the active
    rebuilt = pusher.push_image("toolforge/app", "v1", layers=[b"rebuilt layer"])
    pusher.delete_manifest("toolforge/app", old.digest)
    pusher.delete_manifest("toolforge/retired", retired.digest)
    pair.active.garbage_collect()
    collected = {
        d.removeprefix("sha256:")
        for d in (old.digest, old.blobs[-1], retired.digest, *retired.blobs)
    }
    assert collected <= blob_names(pair.standby.v2) - blob_names(pair.active.v2)

    guard, rsync = unit_run(pair, guard_config(pair, active, pair.sync.url, **LIMIT))
    assert (guard.exit_code, guard.state, rsync) == (0, "OK", 0), guard.stdout
    assert guard.text.startswith("sync allowed: it deletes 1 of 26 tags, ")
    assert guard.perf("missing_referenced").value == 0
    assert not collected & blob_names(pair.standby.v2)
    assert rebuilt.digest.removeprefix("sha256:") in blob_names(pair.standby.v2)
