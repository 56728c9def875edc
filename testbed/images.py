"""Push and pull images over a registry's HTTP API, as `docker push` and `docker pull` would."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import requests

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Pushed:
    repository: str
    tag: str
    digest: str  # the manifest's digest
    blobs: tuple[str, ...]  # config + layers
    manifest: bytes


class Pusher:
    def __init__(
        self, base_url: str, verify: str | bool = True, auth: tuple[str, str] | None = None
    ) -> None:
        """auth: basic auth for every request, as a builder pushes through nginx."""
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = verify
        self.session.auth = auth

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        start = self.session.post(f"{self.base}/v2/{repository}/blobs/uploads/", timeout=10)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        resp = self.session.put(
            f"{self.base}/v2/{repository}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        return resp.headers["Docker-Content-Digest"]

    def push_image(
        self, repository: str, tag: str, layers: list[bytes] | None = None, oci: bool = False
    ) -> Pushed:
        """A small image: a config blob and the given layers (default: one unique layer)."""
        layers = layers if layers is not None else [f"layer of {repository}:{tag}".encode()]
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "created_for": f"{repository}:{tag}"}
        ).encode()
        config_digest = self.push_blob(repository, config)
        layer_digests = [self.push_blob(repository, layer) for layer in layers]
        media = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json"
                    if oci
                    else DOCKER_CONFIG,
                    "size": len(config),
                    "digest": config_digest,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"
                        if oci
                        else DOCKER_LAYER,
                        "size": len(layer),
                        "digest": d,
                    }
                    for layer, d in zip(layers, layer_digests, strict=True)
                ],
            },
            indent=3,
        ).encode()
        digest = self.put_manifest(repository, tag, manifest, media)
        assert digest == digest_of(manifest)
        return Pushed(repository, tag, digest, (config_digest, *layer_digests), manifest)

    def push_index(self, repository: str, tag: str, children: list[Pushed]) -> Pushed:
        """A manifest list over already pushed manifests of the same repository."""
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_LIST,
                "manifests": [
                    {
                        "mediaType": DOCKER_MANIFEST,
                        "size": len(c.manifest),
                        "digest": c.digest,
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for c, arch in zip(
                        children, ("amd64", "arm64", "s390x", "ppc64le"), strict=False
                    )
                ],
            }
        ).encode()
        digest = self.put_manifest(repository, tag, body, DOCKER_LIST)
        return Pushed(repository, tag, digest, (), body)

    def pull_image(self, repository: str, tag: str) -> Pushed:
        """GET /v2/, HEAD and GET of the manifest, GET of every blob: 3 + blobs requests."""
        accept = {"Accept": ", ".join((DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX))}
        base = self.session.get(f"{self.base}/v2/", timeout=10)
        assert base.status_code == 200, base.text
        url = f"{self.base}/v2/{repository}/manifests/{tag}"
        head = self.session.head(url, headers=accept, timeout=10)
        assert head.status_code == 200, head.status_code
        got = self.session.get(url, headers=accept, timeout=10)
        assert got.status_code == 200, got.text
        manifest = got.json()
        blobs = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
        for digest in blobs:
            blob = self.session.get(f"{self.base}/v2/{repository}/blobs/{digest}", timeout=10)
            assert blob.status_code == 200 and digest_of(blob.content) == digest
        return Pushed(repository, tag, digest_of(got.content), tuple(blobs), got.content)

    def blob_exists(self, repository: str, digest: str) -> bool:
        """HEAD of a blob, as a client does before uploading it (404: not there yet)."""
        resp = self.session.head(f"{self.base}/v2/{repository}/blobs/{digest}", timeout=10)
        assert resp.status_code in (200, 404), resp.status_code
        return resp.status_code == 200

    def delete_manifest(self, repository: str, digest: str) -> None:
        resp = self.session.delete(f"{self.base}/v2/{repository}/manifests/{digest}", timeout=10)
        assert resp.status_code == 202, resp.text
