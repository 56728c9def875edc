"""pull probe: whole images through real nginx in front of the real registry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pytest_httpserver import HTTPServer

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.pull import ImagePull, PullProbe, PullStatus
from registry_monitor.probes.reading import run_probe
from testbed.images import Pushed, Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from tests.conftest import REGISTRY_NAME

NAME = REGISTRY_NAME  # the name the `front` fixture serves


def probe(front: Nginx, ca_file: Path, *images: str, **extra: object) -> PullProbe:
    config = Config(
        public_url=f"https://{NAME}",
        public_connect=front.connect,
        ca_file=ca_file,
        cert_file=None,
        canary_images=images,
        **extra,  # type: ignore[arg-type]
    )
    return PullProbe(config)


def run(p: PullProbe) -> PullStatus:
    reading = run_probe(p, Deadline(20))
    assert reading.ok, reading.error
    assert isinstance(reading.value, PullStatus)
    return reading.value


def size_of(registry: Registry, pushed: Pushed) -> int:
    """Bytes a whole pull reads: the manifest and every blob, as stored."""
    blobs = sum(
        (registry.v2 / "blobs/sha256" / d[7:9] / d[7:] / "data").stat().st_size
        for d in pushed.blobs
    )
    return len(pushed.manifest) + blobs


def blob_path(registry: Registry, digest: str) -> Path:
    return registry.v2 / "blobs/sha256" / digest[7:9] / digest[7:] / "data"


def test_whole_image_through_nginx(registry: Registry, front: Nginx, ca_file: Path) -> None:
    pushed = Pusher(registry.url).push_image("base", "latest", layers=[b"a" * 300_000, b"b" * 7])
    (image,) = run(probe(front, ca_file, "base:latest")).images
    assert image == ImagePull(
        image="base:latest",
        endpoint="public",
        up=True,
        duration_seconds=image.duration_seconds,
        bytes=size_of(registry, pushed),
        manifest_digest=pushed.digest,
        platform_digest=None,
        blobs_verified=3,
        blobs_total=3,
    )


def test_manifest_list_followed_to_linux_amd64(
    registry: Registry, front: Nginx, ca_file: Path
) -> None:
    pusher = Pusher(registry.url)
    amd = pusher.push_image("multi", "amd64")
    arm = pusher.push_image("multi", "arm64", layers=[b"arm layer"])
    index = pusher.push_index("multi", "latest", [amd, arm])
    oci = pusher.push_image("oci", "v1", oci=True)
    status = run(probe(front, ca_file, "multi:latest", "oci:v1"))
    assert [
        (i.up, i.manifest_digest, i.platform_digest, i.blobs_verified) for i in status.images
    ] == [
        (True, index.digest, amd.digest, 2),
        (True, oci.digest, None, 2),
    ]
    assert status.images[0].bytes == len(index.manifest) + size_of(registry, amd)


def test_index_without_linux_amd64(registry: Registry, front: Nginx, ca_file: Path) -> None:
    pusher = Pusher(registry.url)
    arm = pusher.push_image("multi", "arm64")
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "size": len(arm.manifest),
                    "digest": arm.digest,
                    "platform": {"architecture": "arm64", "os": "linux"},
                }
            ],
        }
    ).encode()
    pusher.put_manifest("multi", "latest", body, "application/vnd.oci.image.index.v1+json")
    (image,) = run(probe(front, ca_file, "multi:latest")).images
    assert (image.up, image.error) == (False, "the index has no linux/amd64 manifest")


def test_corrupt_layer_on_disk(registry: Registry, front: Nginx, ca_file: Path) -> None:
    pushed = Pusher(registry.url).push_image("base", "latest", layers=[b"good layer bytes"])
    path = blob_path(registry, pushed.blobs[1])
    path.write_bytes(b"evil layer bytes")  # same length: only the digest can tell
    actual = "sha256:" + hashlib.sha256(b"evil layer bytes").hexdigest()
    (image,) = run(probe(front, ca_file, "base:latest")).images
    assert (image.up, image.blobs_verified, image.blobs_total, image.cut_short, image.error) == (
        False,
        1,
        2,
        False,
        f"layer 1/1 {pushed.blobs[1][:19]}: digest mismatch, got {actual[:19]}",
    )


def test_layer_missing_on_disk(registry: Registry, front: Nginx, ca_file: Path) -> None:
    pushed = Pusher(registry.url).push_image("base", "latest")
    blob_path(registry, pushed.blobs[1]).unlink()
    (image,) = run(probe(front, ca_file, "base:latest")).images
    assert (image.up, image.error) == (False, f"layer 1/1 {pushed.blobs[1][:19]}: not found")


def test_missing_tag(registry: Registry, front: Nginx, ca_file: Path) -> None:
    Pusher(registry.url).push_image("base", "v1")
    (image,) = run(probe(front, ca_file, "base:v2")).images
    assert (image.up, image.manifest_digest, image.error) == (False, None, "manifest v2: not found")


def test_byte_cap_cuts_the_run_short_and_the_next_run_starts_further(
    registry: Registry, front: Nginx, ca_file: Path
) -> None:
    pusher = Pusher(registry.url)
    small = pusher.push_image("small", "v1", layers=[b"s" * 100])
    big = pusher.push_image("big", "v1", layers=[b"b" * 600_000])
    p = probe(front, ca_file, "big:v1", "small:v1", pull_max_bytes_per_run=400_000)
    first = run(p)
    assert [(i.image, i.up, i.cut_short, i.error) for i in first.images] == [
        ("big:v1", False, True, None),
        ("small:v1", False, True, None),  # the budget was spent before it began
    ]
    assert first.images[1].bytes == 0
    second = run(p)  # starts with small:v1 this time
    assert [(i.image, i.up, i.cut_short) for i in second.images] == [
        ("big:v1", False, True),
        ("small:v1", True, False),
    ]
    assert second.images[1].bytes == size_of(registry, small)
    assert size_of(registry, big) > 400_000


def test_stopped_nginx_fails_each_pull(registry: Registry, front: Nginx, ca_file: Path) -> None:
    Pusher(registry.url).push_image("base", "latest")
    p = probe(front, ca_file, "base:latest")
    front.stop()
    (image,) = run(p).images
    assert (image.up, image.error) == (False, "manifest latest: connection refused")


# --- what only a fake registry can show -------------------------------------------------


def test_blob_redirected_somewhere_unreachable(
    registry: Registry, fake_http: HTTPServer, ca_file: Path
) -> None:
    pushed = Pusher(registry.url).push_image("base", "latest")
    fake_http.expect_request("/v2/base/manifests/latest").respond_with_data(
        pushed.manifest,
        headers={
            "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
            "Docker-Content-Digest": pushed.digest,
        },
    )
    config_blob = blob_path(registry, pushed.blobs[0]).read_bytes()
    fake_http.expect_request(f"/v2/base/blobs/{pushed.blobs[0]}").respond_with_data(config_blob)
    from testbed.waiting import free_port

    closed = f"http://127.0.0.1:{free_port()}/storage/blob"
    fake_http.expect_request(f"/v2/base/blobs/{pushed.blobs[1]}").respond_with_data(
        "", status=307, headers={"Location": closed}
    )
    config = Config(
        public_url=fake_http.url_for("").rstrip("/"), cert_file=None, canary_images=("base",)
    )
    (image,) = run(PullProbe(config)).images
    assert (image.up, image.blobs_verified, image.error) == (
        False,
        1,
        f"layer 1/1 {pushed.blobs[1][:19]}: connection refused",
    )


def test_blob_cut_off_mid_body(registry: Registry, fake_http: HTTPServer) -> None:
    """What a proxy that gives up mid-body sends (nginx unable to write its temp file,
    a proxy time-out): the headers promise more than arrives."""
    from werkzeug import Response

    pushed = Pusher(registry.url).push_image("base", "latest", layers=[b"x" * 100_000])
    fake_http.expect_request("/v2/base/manifests/latest").respond_with_data(
        pushed.manifest,
        headers={
            "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
            "Docker-Content-Digest": pushed.digest,
        },
    )
    config_blob = blob_path(registry, pushed.blobs[0]).read_bytes()
    fake_http.expect_request(f"/v2/base/blobs/{pushed.blobs[0]}").respond_with_data(config_blob)

    def half(_: object) -> Response:
        body = iter([b"x" * 40_000])  # then the connection closes
        return Response(body, headers={"Content-Length": "100000"}, direct_passthrough=True)

    fake_http.expect_request(f"/v2/base/blobs/{pushed.blobs[1]}").respond_with_handler(half)
    config = Config(
        public_url=fake_http.url_for("").rstrip("/"), cert_file=None, canary_images=("base",)
    )
    (image,) = run(PullProbe(config)).images
    assert (image.up, image.blobs_verified, image.error) == (
        False,
        1,
        f"layer 1/1 {pushed.blobs[1][:19]}: connection broken, the body ended short of its "
        "100000 bytes",
    )


def test_hostile_manifests_fail_their_own_image_only(
    registry: Registry, fake_http: HTTPServer
) -> None:
    """A registry that serves what the real one never stores: a 16.5 MB manifest of `{}`,
    one under the size cap holding a million values, one nested past Python's recursion
    limit, one whose layers is a number. Each fails its own image with the reason; the good
    canary beside them is still pulled and verified."""
    pushed = Pusher(registry.url).push_image("base", "latest")
    v2 = "application/vnd.docker.distribution.manifest.v2+json"
    fake_http.expect_request("/v2/base/manifests/latest").respond_with_data(
        pushed.manifest, headers={"Content-Type": v2, "Docker-Content-Digest": pushed.digest}
    )
    for digest in pushed.blobs:
        fake_http.expect_request(f"/v2/base/blobs/{digest}").respond_with_data(
            blob_path(registry, digest).read_bytes()
        )
    empties = 5_500_000  # 16.5 MB of `{},`: 400 MB of dicts once decoded
    hostile = {
        "big": b'{"schemaVersion":2,"x":[' + b"{}," * (empties - 1) + b"{}]}",
        "many": b'{"schemaVersion":2,"x":[' + b"{}," * 999_999 + b"{}]}",
        "deep": b'{"schemaVersion":2,"x":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        "odd": json.dumps(
            {"schemaVersion": 2, "config": {"digest": pushed.blobs[0]}, "layers": 5}
        ).encode(),
    }
    for name, body in hostile.items():
        fake_http.expect_request(f"/v2/{name}/manifests/latest").respond_with_data(
            body, headers={"Content-Type": v2}
        )
    config = Config(
        public_url=fake_http.url_for("").rstrip("/"),
        cert_file=None,
        canary_images=("big:latest", "base:latest", "many:latest", "deep:latest", "odd:latest"),
    )
    status = run(PullProbe(config))
    big_size = len(hostile["big"])
    assert [(i.image, i.up, i.error) for i in status.images] == [
        (
            "big:latest",
            False,
            f"manifest latest: response body of {big_size} bytes exceeds the 4194304 byte cap "
            "(the registry stores none larger)",
        ),
        ("base:latest", True, None),
        ("many:latest", False, "manifest latest: more than 100000 JSON values"),
        ("deep:latest", False, "manifest latest: JSON nested too deeply"),
        ("odd:latest", False, "the manifest's layers is not a list"),
    ]
    assert status.images[1].blobs_verified == len(pushed.blobs)
