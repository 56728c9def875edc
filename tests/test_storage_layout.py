"""Link files and manifest blobs as the registry stores them (and garbage it never should)."""

import json
from pathlib import Path

import pytest

from registry_monitor.storage.layout import (
    MAX_MANIFEST_BYTES,
    LayoutError,
    parse_link,
    parse_manifest,
    read_link,
    read_manifest,
)
from testbed.images import DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

A = "a" * 64
B = "b" * 64
C = "c" * 64
D = "0123456789abcdef" * 4


def test_link_is_sha256_and_64_lowercase_hex_without_newline() -> None:
    assert parse_link(f"sha256:{D}".encode()) == bytes.fromhex(D)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "empty link file"),
        (f"sha256:{D}\n".encode(), "not a sha256 link (72 bytes: b'sha256:" + D + "\\n')"),
        (f"sha256:{D[:-1]}".encode(), "not a sha256 link (70 bytes: b'sha256:" + D[:-1] + "')"),
        (f"sha256:{D.upper()}".encode(), f"not a sha256 link (71 bytes: b'sha256:{D.upper()}')"),
        (f"sha512:{D}".encode(), f"not a sha256 link (71 bytes: b'sha512:{D}')"),
        (b"\x00\xff garbage", "not a sha256 link (10 bytes: b'\\x00\\xff garbage')"),
    ],
)
def test_garbage_links_are_refused(data: bytes, error: str) -> None:
    with pytest.raises(LayoutError) as exc:
        parse_link(data)
    assert str(exc.value) == error


def test_read_link_reads_no_more_than_a_link(tmp_path: Path) -> None:
    path = tmp_path / "link"
    path.write_bytes(f"sha256:{D}".encode() + b"x" * 10_000)
    with pytest.raises(LayoutError) as exc:
        read_link(str(path))
    assert str(exc.value).startswith("not a sha256 link (72 bytes:")


def descriptor(digest: str, media: str = DOCKER_LAYER, **extra: object) -> dict[str, object]:
    return {"mediaType": media, "size": 1, "digest": f"sha256:{digest}", **extra}


def test_docker_v2_manifest_references_config_and_layers() -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(A, "application/vnd.docker.container.image.v1+json"),
        "layers": [descriptor(B), descriptor(C), descriptor(B)],
    }
    refs = parse_manifest(json.dumps(body).encode())
    assert (refs.kind, refs.children, refs.blobs) == (
        "docker-v2",
        (),
        (bytes.fromhex(A), bytes.fromhex(B), bytes.fromhex(C)),
    )


def test_oci_manifest_without_media_type_and_foreign_layers_skipped() -> None:
    body = {
        "schemaVersion": 2,
        "config": descriptor(A, "application/vnd.oci.image.config.v1+json"),
        "layers": [
            descriptor(B),
            descriptor(C, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
            descriptor(D, urls=["https://example.org/layer"]),
        ],
    }
    refs = parse_manifest(json.dumps(body).encode())
    assert (refs.kind, refs.blobs) == ("oci-manifest", (bytes.fromhex(A), bytes.fromhex(B)))
    body["mediaType"] = OCI_MANIFEST
    assert parse_manifest(json.dumps(body).encode()).kind == "oci-manifest"


@pytest.mark.parametrize(
    ("media", "kind"), [(DOCKER_LIST, "docker-list"), (OCI_INDEX, "oci-index")]
)
def test_indexes_reference_child_manifests(media: str, kind: str) -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": media,
        "manifests": [descriptor(A, DOCKER_MANIFEST), descriptor(B, DOCKER_MANIFEST)],
    }
    refs = parse_manifest(json.dumps(body).encode())
    assert (refs.kind, refs.children, refs.blobs) == (
        kind,
        (bytes.fromhex(A), bytes.fromhex(B)),
        (),
    )


def test_schema1_manifest_references_its_blob_sums() -> None:
    body = {
        "schemaVersion": 1,
        "fsLayers": [{"blobSum": f"sha256:{A}"}, {"blobSum": f"sha256:{A}"}],
    }
    refs = parse_manifest(json.dumps(body).encode())
    assert (refs.kind, refs.blobs) == ("docker-v1", (bytes.fromhex(A),))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x1f\x8b binary layer", "manifest blob is not JSON"),
        (b"[1, 2]", "manifest blob is not a JSON object"),
        (b'{"schemaVersion": 3}', "unknown manifest schemaVersion 3"),
        (
            b'{"schemaVersion": 2, "foo": 1}',
            "JSON object that is neither an image manifest nor an index",
        ),
        (b'{"schemaVersion": 2, "layers": []}', "image manifest without a config descriptor"),
        (
            json.dumps({"schemaVersion": 2, "config": descriptor("xyz")}).encode(),
            "malformed digest 'sha256:xyz'",
        ),
        (
            json.dumps(
                {"schemaVersion": 2, "config": {"digest": "sha512:" + A + A}, "layers": []}
            ).encode(),
            "unsupported digest algorithm 'sha512'",
        ),
        (
            json.dumps({"schemaVersion": 2, "manifests": "nope"}).encode(),
            "manifest field 'manifests' is not a list of descriptors",
        ),
        (
            json.dumps({"schemaVersion": 2, "mediaType": "text/plain", "manifests": []}).encode(),
            "index with unexpected mediaType 'text/plain'",
        ),
    ],
)
def test_garbage_manifests_are_refused(body: bytes, error: str) -> None:
    with pytest.raises(LayoutError) as exc:
        parse_manifest(body)
    assert str(exc.value) == error


def test_manifest_reads_are_capped(tmp_path: Path) -> None:
    big = tmp_path / "data"
    with big.open("wb") as f:
        f.truncate(MAX_MANIFEST_BYTES + 1)
    with pytest.raises(LayoutError) as exc:
        read_manifest(str(big))
    assert str(exc.value) == f"a {MAX_MANIFEST_BYTES + 1} byte blob is too large to be a manifest"
