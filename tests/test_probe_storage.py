"""The storage probe on a real docker-registry's data directory."""

import getpass
import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from registry_monitor.base import Deadline
from registry_monitor.config import Config, Intervals
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.storage import StorageProbe, StorageStatus
from registry_monitor.storage import inventory_wire
from registry_monitor.storage.inventory_wire import decode
from registry_monitor.storage.spill import Spill
from registry_monitor.storage.verify import Sha256
from testbed.images import Pushed, Pusher
from testbed.registry import Registry
from testbed.waiting import wait_until


def blob_dir(registry: Registry, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return registry.v2 / "blobs" / "sha256" / hexd[:2] / hexd


def tag_link(registry: Registry, repo: str, tag: str) -> Path:
    return registry.v2 / "repositories" / repo / "_manifests" / "tags" / tag / "current" / "link"


def blob_bytes(registry: Registry) -> int:
    return sum(p.stat().st_size for p in (registry.v2 / "blobs").rglob("data"))


def probe(registry: Registry, **kw: Any) -> StorageProbe:
    config: dict[str, Any] = {
        "data_dir": registry.data_dir,
        "registry_user": getpass.getuser(),
        "state_dir": registry.workdir / "state",
        # every run a full one, each taking the share of the rolling checks that a run
        # every 300 s takes: these test the full runs
        "storage_full_scan_seconds": 0.001,
        "intervals": Intervals(storage=300),
        **kw,
    }
    return StorageProbe(Config(**config))


def run(p: StorageProbe) -> StorageStatus:
    r = run_probe(p, Deadline(30))
    assert r.ok, r.error
    assert isinstance(r.value, StorageStatus)
    return r.value


@pytest.fixture
def images(registry: Registry) -> dict[str, Pushed]:
    pusher = Pusher(registry.url)
    base = pusher.push_image("toolforge/python311", "latest")
    oci = pusher.push_image("toolforge/python311", "v1", oci=True)
    arm = pusher.push_image("toolforge/jdk17", "arm64")
    index = pusher.push_index("toolforge/jdk17", "latest", [arm])
    return {"base": base, "oci": oci, "arm": arm, "index": index}


def test_counts_of_a_registry(registry: Registry, images: dict[str, Pushed]) -> None:
    lone = Pusher(registry.url).push_blob("toolforge/python311", b"pushed, never referenced")
    s = run(probe(registry)).scan
    newest = max(
        tag_link(registry, repo, tag).stat().st_mtime
        for repo, tag in [
            ("toolforge/python311", "latest"),
            ("toolforge/python311", "v1"),
            ("toolforge/jdk17", "arm64"),
            ("toolforge/jdk17", "latest"),
        ]
    )
    # blobs: 3 per image (config, layer, manifest), the index, the lone blob
    assert (s.repositories, s.tags, s.manifests, s.blobs) == (2, 4, 4, 11)
    assert s.blob_bytes == blob_bytes(registry)
    assert s.last_push == newest
    assert (s.uploads_active, s.uploads_stale) == (0, 0)
    assert (s.dangling_references, s.dangling_examples) == (0, ())
    assert (s.reclaimable_blobs, s.reclaimable_bytes) == (1, len(b"pushed, never referenced"))
    assert blob_dir(registry, lone).is_dir()
    inventory = s.inventory
    assert list(inventory.repositories) == ["toolforge/jdk17", "toolforge/python311"]
    assert inventory.repositories["toolforge/jdk17"].tag_names() == ["arm64", "latest"]
    assert inventory.repositories["toolforge/jdk17"].digests == bytes.fromhex(
        images["arm"].digest[7:] + images["index"].digest[7:]
    )
    assert len(inventory.blobs) == 11


def test_a_deleted_layer_makes_its_tag_and_revision_dangling(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    layer = images["base"].blobs[1]
    shutil.rmtree(blob_dir(registry, layer))
    s = run(probe(registry)).scan
    manifest = images["base"].digest
    why = f"blob {layer} of manifest {manifest} missing"
    assert s.dangling_references == 2
    assert s.dangling_examples == (
        f"toolforge/python311:latest: {why}",
        f"toolforge/python311@{manifest}: {why}",
    )
    assert s.inventory.repositories["toolforge/python311"].tag_names() == ["v1"]


def test_a_missing_child_breaks_the_index(registry: Registry, images: dict[str, Pushed]) -> None:
    child = images["arm"].digest
    shutil.rmtree(blob_dir(registry, child))
    s = run(probe(registry)).scan
    index = images["index"].digest
    assert s.dangling_references == 4  # both tags and both revisions
    assert s.dangling_examples == (
        f"toolforge/jdk17:arm64: manifest blob {child} missing",
        f"toolforge/jdk17:latest: index {index}: manifest blob {child} missing",
        *sorted(
            [
                f"toolforge/jdk17@{child}: manifest blob {child} missing",
                f"toolforge/jdk17@{index}: index {index}: manifest blob {child} missing",
            ]
        ),
    )
    assert s.inventory.repositories["toolforge/jdk17"].tag_names() == []


def test_garbage_in_a_tag_link_is_a_dangling_reference(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    tag_link(registry, "toolforge/python311", "v1").write_bytes(b"sha256:nothex\n")
    s = run(probe(registry)).scan
    assert (s.dangling_references, s.dangling_examples) == (
        1,
        (
            "toolforge/python311:v1: tag link unusable: not a sha256 link (14 bytes: b'sha256:nothex\\n')",
        ),
    )


def start_upload(registry: Registry, repo: str) -> Path:
    resp = requests.post(f"{registry.url}/v2/{repo}/blobs/uploads/", timeout=5)
    assert resp.status_code == 202
    uuid = resp.headers["Docker-Upload-UUID"]
    return registry.v2 / "repositories" / repo / "_uploads" / uuid


def test_active_stale_and_unreadable_uploads(registry: Registry, images: dict[str, Pushed]) -> None:
    start_upload(registry, "toolforge/python311")
    old = start_upload(registry, "toolforge/python311")
    empty = start_upload(registry, "toolforge/new")  # a repository made of an upload only
    eight_days_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 8 * 86400))
    (old / "startedat").write_text(eight_days_ago)
    (empty / "startedat").write_text("")
    long_ago = time.time() - 3600  # left empty for an hour, not caught while being written
    os.utime(empty, (long_ago, long_ago))
    s = run(probe(registry)).scan
    assert (s.uploads_active, s.uploads_stale) == (1, 2)
    assert s.repositories == 2  # an upload alone does not make a repository
    s = run(probe(registry, stale_upload_seconds=9 * 86400)).scan
    assert (s.uploads_active, s.uploads_stale) == (2, 1)


def test_garbage_collected_registry_has_no_false_dangling_references(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    pusher = Pusher(registry.url)
    old = images["base"]
    new = pusher.push_image("toolforge/python311", "latest", layers=[b"rebuilt layer"])
    assert new.digest != old.digest  # the old manifest is now untagged
    p = probe(registry)
    before = run(p).scan
    assert (before.manifests, before.dangling_references, before.reclaimable_blobs) == (5, 0, 0)
    registry.stop()
    registry.garbage_collect(delete_untagged=True)
    registry.start()
    after = run(p).scan
    # the untagged manifest and its own layer are gone; its config is shared with `new`
    assert not blob_dir(registry, old.digest).exists()
    assert not blob_dir(registry, old.blobs[1]).exists()
    assert (after.manifests, after.blobs, after.tags) == (4, before.blobs - 2, 4)
    assert (after.dangling_references, after.dangling_examples) == (0, ())
    assert (after.reclaimable_blobs, after.reclaimable_bytes) == (0, 0)
    # the layer links GC left behind dangle, and are not counted
    layers = registry.v2 / "repositories" / "toolforge/python311" / "_layers" / "sha256"
    assert (layers / old.blobs[1][7:] / "link").exists()


def test_rescan_of_an_unchanged_tree_reads_nothing_again(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    p = probe(registry)
    p.scanner.racy_ns, p.scanner.deep_slices = 0, 0
    first = run(p).scan.stats
    assert (first.incremental, first.tag_links_read, first.manifests_parsed) == (False, 4, 4)
    again = run(p).scan
    assert (again.stats.incremental, again.stats.changed) == (True, False)
    assert (again.stats.buckets_listed, again.stats.repositories_listed) == (0, 0)
    assert (again.stats.tag_links_read, again.stats.manifests_parsed) == (0, 0)
    assert again.inventory is run(p).scan.inventory  # same content, same object and ETag


def test_a_tag_moved_in_place_is_seen(registry: Registry, images: dict[str, Pushed]) -> None:
    p = probe(registry)
    p.scanner.racy_ns, p.scanner.deep_slices = 0, 0
    run(p)
    link = tag_link(registry, "toolforge/python311", "latest")
    before = link.stat()
    # let the clock move past the link's time stamp granularity, then move the tag
    wait_until(lambda: time.time_ns() > before.st_ctime_ns + 50_000_000, 1, "clock tick")
    moved = Pusher(registry.url).push_image("toolforge/python311", "latest", layers=[b"v2"])
    after = link.stat()
    assert after.st_ino == before.st_ino  # registry 2.8 rewrote the link in place
    s = run(p).scan
    assert s.stats.tag_links_read == 2  # the links of that repository, not of the others
    tags = s.inventory.repositories["toolforge/python311"]
    assert tags.digest(tags.tag_names().index("latest")) == bytes.fromhex(moved.digest[7:])
    assert s.last_push == after.st_mtime


def test_recently_changed_links_are_read_again(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    p = probe(registry)
    p.scanner.deep_slices = 0
    run(p)
    # every link was written within the racy window: not trusted, read again
    assert run(p).scan.stats.tag_links_read == 4


def test_files_of_another_owner_are_counted(registry: Registry, images: dict[str, Pushed]) -> None:
    link = (
        registry.v2
        / "repositories/toolforge/jdk17/_layers/sha256"
        / images["arm"].blobs[1][7:]
        / "link"
    )
    os.chown(link, 54321, 54321)
    o = run(probe(registry)).owners
    rel = link.relative_to(registry.data_dir)
    assert (o.checked, o.foreign_files, o.examples, o.note) == (
        True,
        1,
        (f"{rel} (uid 54321)",),
        None,
    )
    assert o.passes_completed == 1


def test_foreign_files_in_blob_directories_are_counted_as_they_appear(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    """Each run sees the blob directories there are then: one made after the first run
    (by hand, here by another user) is swept by the next."""
    data = blob_dir(registry, images["base"].blobs[0]) / "data"
    os.chown(data, 54321, 54321)
    p = probe(registry, owner_check_period_seconds=1)  # every unit every run
    first = run(p).owners
    assert (first.foreign_files, first.examples) == (
        1,
        (f"{data.relative_to(registry.data_dir)} (uid 54321)",),
    )
    buckets = registry.v2 / "blobs" / "sha256"
    new = next(buckets / f"{b:02x}" for b in range(256) if not (buckets / f"{b:02x}").exists())
    new.mkdir()
    os.chown(new, 54322, 54322)
    second = run(p).owners
    assert second.foreign_files == 2
    assert f"{new.relative_to(registry.data_dir)} (uid 54322)" in second.examples


def test_owner_check_skipped_without_that_user(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    o = run(probe(registry, registry_user="no-such-user-here")).owners
    assert (o.checked, o.foreign_files, o.note) == (
        False,
        None,
        "user no-such-user-here does not exist on this host; owner check skipped",
    )


def test_owner_sweep_resumes_within_its_budget(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    p = probe(registry, owner_check_files_per_scan=1)
    first = run(p).owners
    assert (first.passes_completed, first.note) == (0, "first pass over the tree not finished yet")
    passes = [run(p).owners.passes_completed for _ in range(300)]
    assert passes[-1] >= 1  # 259 units (top, 256 blob directories, 2 repositories)


def test_corrupt_blob_fails_verification(registry: Registry, images: dict[str, Pushed]) -> None:
    layer = images["base"].blobs[1]
    data = blob_dir(registry, layer) / "data"
    data.write_bytes(b"X" * data.stat().st_size)
    v = run(probe(registry)).verify
    actual = hashlib.sha256(data.read_bytes()).hexdigest()
    assert (v.failures_total, v.recent_failures) == (
        1,
        (f"{layer}: content hashes to sha256:{actual}",),
    )
    assert v.verified_bytes_total == v.bytes_this_run == blob_bytes(registry)
    assert (v.blobs_this_run, v.passes_completed, v.position) == (10 - 1, 1, None)


def test_verification_keeps_to_its_byte_budget_and_resumes(registry: Registry) -> None:
    big = b"a large layer " * 1000  # 14000 bytes
    digest = Pusher(registry.url).push_blob("toolforge/big", big)
    p = probe(registry, verify_bytes_per_scan=5000)
    runs = [run(p).verify for _ in range(3)]
    assert [v.bytes_this_run for v in runs] == [5000, 5000, 4000]
    assert [v.position for v in runs] == [digest, digest, None]  # None: a pass is complete
    assert [v.blobs_this_run for v in runs] == [0, 0, 1]
    assert [v.passes_completed for v in runs] == [0, 0, 1]
    assert runs[-1].failures_total == 0


def test_the_first_mib_is_hashed_without_openssl_the_rest_with_it() -> None:
    """The interpreter's own sha256 while the first bytes last (a one-shot check of a
    small registry never loads OpenSSL), OpenSSL's for every blob after that."""
    hashes = Sha256(builtin_bytes=100)
    states = [hashes.new(60), hashes.new(40), hashes.new(1), hashes.new(0)]
    assert [type(h).__module__ == "_hashlib" for h in states] == [False, False, True, True]
    assert type(Sha256(builtin_bytes=100).new(101)).__module__ == "_hashlib"
    for h in states:
        h.update(b"layer")
    assert {h.hexdigest() for h in states} == {hashlib.sha256(b"layer").hexdigest()}


def test_large_blobs_are_verified_across_runs(registry: Registry) -> None:
    """Past the first MiB, OpenSSL's sha256; a blob's hash state is kept from run to run
    and a corrupt large blob is named."""
    pusher = Pusher(registry.url)
    good = bytes(range(256)) * (3 << 12)  # 3 MiB
    bad = b"\x01" * (2 << 20)
    good_digest = pusher.push_blob("toolforge/big", good)
    bad_digest = pusher.push_blob("toolforge/big", bad)
    (blob_dir(registry, bad_digest) / "data").write_bytes(b"\x02" + bad[1:])
    actual = hashlib.sha256(b"\x02" + bad[1:]).hexdigest()
    p = probe(registry, verify_bytes_per_scan=2 << 20, verify_period_seconds=1)
    first = run(p).verify
    assert p.verifier.current is not None  # a blob in progress, hashed by OpenSSL
    assert type(p.verifier.current[2]).__module__ == "_hashlib"
    runs = [first, *(run(p).verify for _ in range(2))]
    assert [v.bytes_this_run for v in runs] == [2 << 20, 2 << 20, 1 << 20]
    assert (runs[-1].verified_blobs_total, runs[-1].passes_completed) == (1, 1)
    assert runs[-1].recent_failures == (f"{bad_digest}: content hashes to sha256:{actual}",)
    assert good_digest != bad_digest


def test_missing_data_dir_fails_the_probe(tmp_path: Path) -> None:
    r = run_probe(StorageProbe(Config(data_dir=tmp_path / "nope")), Deadline(5))
    assert (r.ok, r.value, r.error) == (
        False,
        None,
        f"data directory {tmp_path / 'nope'} does not exist",
    )


def test_full_digests_survive_the_spill_file_being_rewritten(
    registry: Registry, images: dict[str, Pushed], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = probe(registry, verify_period_seconds=300)  # every run verifies every blob
    first = run(p)
    old_spill = p.scanner.tree.spill
    monkeypatch.setattr(Spill, "wasteful", lambda self: True)
    lone = Pusher(registry.url).push_blob("toolforge/python311", b"one more blob")
    second = run(p)
    assert p.scanner.tree.spill is not old_spill
    body = b"".join(inventory_wire.lines(second.inventory))
    inventory = decode([body], gzipped=False, max_bytes=10**6)
    assert len(inventory.blobs) == first.scan.blobs + 1 == 11
    assert lone[7:] in body.decode()
    # the first scan's inventory, its wire form not written yet, still reads its digests
    before = b"".join(inventory_wire.lines(first.inventory))
    assert len(decode([before], gzipped=False, max_bytes=10**6).blobs) == 10
    assert lone[7:] not in before.decode()
    assert (second.verify.failures_total, second.verify.blobs_this_run) == (0, 11)


def test_a_manifest_deleted_through_the_api_leaves_its_blobs_reclaimable(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    """DELETE /v2/<repo>/manifests/<digest> unlinks the revision and its tag; the manifest,
    config and layer stay on disk until a garbage collection, which is what reclaims them."""
    pusher = Pusher(registry.url)
    doomed = pusher.push_image("toolforge/doomed", "v1", layers=[b"only the doomed image has this"])
    unique = (doomed.digest, *doomed.blobs)
    size = sum((blob_dir(registry, d) / "data").stat().st_size for d in unique)
    p = probe(registry)
    before = run(p).scan
    assert (before.reclaimable_blobs, before.reclaimable_bytes) == (0, 0)
    pusher.delete_manifest("toolforge/doomed", doomed.digest)
    after = run(p).scan
    assert (after.manifests, after.tags, after.blobs) == (
        before.manifests - 1,
        before.tags - 1,
        before.blobs,
    )
    assert (after.reclaimable_blobs, after.reclaimable_bytes) == (len(unique), size)
    assert after.dangling_references == 0
    registry.stop()
    registry.garbage_collect()
    registry.start()
    collected = run(p).scan
    assert (collected.blobs, collected.reclaimable_blobs) == (before.blobs - len(unique), 0)
    assert not any(blob_dir(registry, d).exists() for d in unique)


def test_rolling_checks_spread_a_pass_over_their_period(
    registry: Registry, images: dict[str, Pushed]
) -> None:
    """After the first run, each run covers its share (interval * 1.25 / period) of the
    tree: here a quarter, so a whole pass takes at most four runs, and never one."""
    p = probe(
        registry,
        verify_period_seconds=1500,
        owner_check_period_seconds=1500,
    )
    first = run(p)
    assert (first.verify.blobs_this_run, first.verify.passes_completed) == (10, 1)
    assert first.owners.passes_completed == 1
    later = [run(p) for _ in range(4)]
    assert all(0 < s.verify.blobs_this_run < 10 for s in later)
    assert sum(s.verify.blobs_this_run for s in later) >= 10
    assert later[-1].verify.passes_completed == 2
    # 259 units (the top, each blob directory, each repository), ceil(259 / 4) a run
    assert [s.owners.passes_completed for s in later] == [1, 1, 1, 2]
    assert p.owners.cursor == ""  # 4 * 65 units: the next pass has begun
