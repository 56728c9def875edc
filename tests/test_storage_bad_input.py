"""The storage scan on a real registry's data directory with garbage in it: manifests that
are not JSON or reference themselves, unusable link files, odd repository names, symlink
loops. Each is counted or explained in the reading; none fails the probe or the scan."""

import getpass
import hashlib
import json
from pathlib import Path

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.storage import StorageProbe
from registry_monitor.storage.snapshot import StorageSnapshot
from testbed.images import DOCKER_LIST, DOCKER_MANIFEST, Pushed, Pusher
from testbed.registry import Registry


@pytest.fixture
def image(registry: Registry) -> Pushed:
    return Pusher(registry.url).push_image("toolforge/python311", "latest")


def scan(registry: Registry) -> StorageSnapshot:
    probe = StorageProbe(
        Config(
            data_dir=registry.data_dir,
            registry_user=getpass.getuser(),
            state_dir=registry.workdir / "state",
        )
    )
    r = run_probe(probe, Deadline(30))
    assert r.ok, r.error
    snapshot: StorageSnapshot = r.value.scan
    return snapshot


def blob_data(registry: Registry, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return registry.v2 / "blobs" / "sha256" / hexd[:2] / hexd / "data"


def repo_dir(registry: Registry, repo: str) -> Path:
    return registry.v2 / "repositories" / repo


def tag_link(registry: Registry, repo: str, tag: str) -> Path:
    return repo_dir(registry, repo) / "_manifests" / "tags" / tag / "current" / "link"


def plant_manifest(registry: Registry, repo: str, tag: str, digest: str, body: bytes) -> None:
    """A manifest blob stored under `digest` (whatever its content hashes to), tagged and
    listed as a revision, as the registry would lay it out."""
    data = blob_data(registry, digest)
    data.parent.mkdir(parents=True)
    data.write_bytes(body)
    link = tag_link(registry, repo, tag)
    link.parent.mkdir(parents=True)
    link.write_text(digest)
    revision = repo_dir(registry, repo) / "_manifests/revisions/sha256" / digest[7:] / "link"
    revision.parent.mkdir(parents=True)
    revision.write_text(digest)


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x1f\x8b\x08\x00 a gzipped layer", "manifest blob is not JSON"),
        (b"[" * 20_000, "manifest blob refused: JSON nested too deeply"),
        (b"[" + b"{}," * 200_000 + b"{}]", "manifest blob refused: more than 100000 JSON values"),
        (b'{"schemaVersion": 2, "layers": "none"}', "image manifest without a config descriptor"),
    ],
)
def test_a_manifest_that_is_not_one_is_a_dangling_reference(
    registry: Registry, image: Pushed, body: bytes, why: str
) -> None:
    blob_data(registry, image.digest).write_bytes(body)
    s = scan(registry)
    explained = f"manifest {image.digest} unusable: {why}"
    assert (s.repositories, s.tags, s.manifests, s.blobs) == (1, 1, 1, 3)
    assert (s.dangling_references, s.dangling_examples) == (
        2,
        (
            f"toolforge/python311:latest: {explained}",
            f"toolforge/python311@{image.digest}: {explained}",
        ),
    )
    assert s.inventory.repositories["toolforge/python311"].tag_names() == []


def index_of(*children: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "size": 1, "digest": c} for c in children],
        }
    ).encode()


def test_an_index_that_lists_itself_is_dangling_not_a_recursion(
    registry: Registry, image: Pushed
) -> None:
    loop = fake_digest("an index that lists itself")
    plant_manifest(registry, "toolforge/loop", "latest", loop, index_of(image.digest, loop))
    s = scan(registry)
    assert (s.repositories, s.tags, s.manifests) == (2, 2, 2)
    assert s.dangling_references == 2
    assert s.dangling_examples == (
        f"toolforge/loop:latest: manifest {loop} references itself",
        f"toolforge/loop@{loop}: manifest {loop} references itself",
    )
    assert s.inventory.repositories["toolforge/python311"].tag_names() == ["latest"]
    assert s.inventory.repositories["toolforge/loop"].tag_names() == []


def test_indexes_that_list_each_other_are_dangling(registry: Registry, image: Pushed) -> None:
    a, b = fake_digest("index a"), fake_digest("index b")
    plant_manifest(registry, "toolforge/ab", "a", a, index_of(b))
    plant_manifest(registry, "toolforge/ab", "b", b, index_of(a))
    s = scan(registry)
    assert s.dangling_references == 4
    assert s.dangling_examples == (
        f"toolforge/ab:a: index {a}: manifest {b} references {a}, which lists it",
        f"toolforge/ab:b: index {b}: manifest {a} references {b}, which lists it",
        *sorted(
            [
                f"toolforge/ab@{a}: index {a}: manifest {b} references {a}, which lists it",
                f"toolforge/ab@{b}: index {b}: manifest {a} references {b}, which lists it",
            ]
        ),
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty link file"),
        (
            b"sha256:" + b"a" * 64 + b"\n",
            "not a sha256 link (72 bytes: b'sha256:" + "a" * 64 + "\\n')",
        ),
        (b"sha256:" + b"a" * 32, "not a sha256 link (39 bytes: b'sha256:" + "a" * 32 + "')"),
        (b"\x00" * 10_000, "not a sha256 link (72 bytes: b'" + "\\x00" * 72 + "')"),
    ],
)
def test_link_files_with_garbage_or_wrong_length(
    registry: Registry, image: Pushed, content: bytes, why: str
) -> None:
    Pusher(registry.url).put_manifest(
        "toolforge/python311", "broken", image.manifest, DOCKER_MANIFEST
    )
    tag_link(registry, "toolforge/python311", "broken").write_bytes(content)
    s = scan(registry)
    assert (s.tags, s.dangling_references) == (2, 1)
    assert s.dangling_examples == (f"toolforge/python311:broken: tag link unusable: {why}",)
    assert s.inventory.repositories["toolforge/python311"].tag_names() == ["latest"]


def test_odd_repository_and_tag_names(registry: Registry, image: Pushed) -> None:
    pusher = Pusher(registry.url)
    pusher.push_image("tools.example/app.v2", "1.0")  # dots are valid: a real push
    pusher.push_image("a__b/c-d", "v1.2_3")
    for odd in ("with space", "ünïcode", ".hidden", "UPPER", "a..b", "trailing-"):
        (repo_dir(registry, odd) / "_layers").mkdir(parents=True)
    (repo_dir(registry, "with space") / "nested" / "_layers").mkdir(parents=True)
    for tag in ("tag with space", "ünï", ".dot"):
        link = tag_link(registry, "toolforge/python311", tag)
        link.parent.mkdir(parents=True)
        link.write_text(image.digest)
    s = scan(registry)
    assert sorted(s.inventory.repositories) == [
        "a__b/c-d",
        "toolforge/python311",
        "tools.example/app.v2",
    ]
    assert (s.repositories, s.tags, s.dangling_references) == (3, 3, 0)
    assert s.notes == (
        f"{repo_dir(registry, 'toolforge/python311')}: 3 tag directories with invalid names",
        "7 directories under repositories/ skipped: not valid repository names",
    )


def test_symlink_loops_in_the_data_dir(registry: Registry, image: Pushed) -> None:
    repos = registry.v2 / "repositories"
    (repos / "loop").symlink_to("loop")  # ELOOP when followed
    (repos / "toolforge" / "up").symlink_to("..")  # a cycle for a walker that follows links
    tags = repos / "toolforge/python311/_manifests/tags"
    (tags / "self").symlink_to("self")
    looped = tags / "looped" / "current"
    looped.mkdir(parents=True)
    (looped / "link").symlink_to("link")
    bucket = blob_data(registry, image.digest).parent.parent
    blob_loop = bucket / (bucket.name + "0" * 62)
    blob_loop.symlink_to(blob_loop.name)
    (registry.v2 / "blobs" / "sha256" / "loop").symlink_to("loop")
    s = scan(registry)
    assert (s.repositories, s.tags, s.manifests, s.blobs) == (1, 2, 1, 3)
    assert (s.dangling_references, s.dangling_examples) == (
        1,
        ("toolforge/python311:looped: tag link is a symlink loop",),
    )
    assert s.notes == (f"2 symlink loops ignored, first: {blob_loop}/data",)
    assert s.inventory.repositories["toolforge/python311"].tag_names() == ["latest"]


def test_fifos_planted_in_the_data_dir_never_hang_the_scan(
    registry: Registry, image: Pushed
) -> None:
    """A FIFO as a tag link, as a manifest's data and as an upload's startedat: each is
    explained like any unusable file, and the scan ends (a blocked open() would not;
    the startedat is then an upload without a date, stale by its directory's age)."""
    import os
    import time

    from registry_monitor.probes.reading import ProbeRunner

    pusher = Pusher(registry.url)
    pusher.put_manifest("toolforge/python311", "fifo", image.manifest, DOCKER_MANIFEST)
    link = tag_link(registry, "toolforge/python311", "fifo")
    link.unlink()
    os.mkfifo(link)
    manifest = fake_digest("a fifo")
    plant_manifest(registry, "toolforge/python311", "piped", manifest, b"")
    blob_data(registry, manifest).unlink()
    os.mkfifo(blob_data(registry, manifest))
    upload = repo_dir(registry, "toolforge/python311") / "_uploads" / "f1f0"
    upload.mkdir(parents=True)
    os.mkfifo(upload / "startedat")
    long_ago = time.time() - 3600
    os.utime(upload, (long_ago, long_ago))
    probe = StorageProbe(
        Config(
            data_dir=registry.data_dir,
            registry_user=getpass.getuser(),
            state_dir=registry.workdir / "state",
        )
    )
    r = ProbeRunner(probe, timeout=30).run()
    assert r.ok, r.error
    s: StorageSnapshot = r.value.scan
    fifo = "is a FIFO, not a regular file"
    assert (s.tags, s.dangling_references) == (3, 3)
    assert s.dangling_examples == (
        f"toolforge/python311:fifo: tag link unusable: {fifo}",
        # the walk takes only a regular file for a blob's data: a FIFO is none
        f"toolforge/python311:piped: manifest blob {manifest} missing",
        f"toolforge/python311@{manifest}: manifest blob {manifest} missing",
    )
    assert s.uploads_stale == 1  # no readable startedat, left for an hour
