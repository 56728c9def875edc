"""Synthetic registries in the real on-disk layout, at the sizes the benchmarks need.

Every tag has its own manifest, config and top layer, and shares two base
layers with other images, as Toolforge's images share their base images;
manifests are valid Docker v2 manifests whose digests and sizes are right,
so the real docker-registry serves the tree (tests/test_synthetic.py checks
that). Link files hold `sha256:<hex>` with no newline, as the registry
writes them.

    python -m bench.synthetic DIR [small|toolforge|large]
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Size:
    name: str
    repositories: int
    tags: int
    shared_layers: int  # the pool of base layers images share
    uploads: int  # uploads in progress, a quarter of them stale

    @property
    def expected_blobs(self) -> int:
        return 3 * self.tags + self.shared_layers


SIZES = {
    "tiny": Size("tiny", 4, 10, 3, 2),
    "small": Size("small", 100, 1_000, 20, 8),
    "toolforge": Size("toolforge", 1_000, 10_000, 50, 20),
    "large": Size("large", 10_000, 100_000, 500, 100),
}

NOW = 1_790_000_000.0  # fixed, so two generations of a size are identical trees
YEAR = 365 * 86400


@dataclass
class Summary:
    repositories: int = 0
    tags: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    uploads: int = 0
    newest_push: float = 0.0


class Writer:
    def __init__(self, root: str) -> None:
        self.v2 = os.path.join(root, "docker", "registry", "v2")
        self.blobs_seen: set[str] = set()
        self.summary = Summary()

    def blob(self, data: bytes) -> str:
        hexdigest = hashlib.sha256(data).hexdigest()
        if hexdigest not in self.blobs_seen:
            self.blobs_seen.add(hexdigest)
            d = os.path.join(self.v2, "blobs", "sha256", hexdigest[:2], hexdigest)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "data"), "wb") as f:
                f.write(data)
            self.summary.blobs += 1
            self.summary.blob_bytes += len(data)
        return hexdigest

    @staticmethod
    def link(path: str, hexdigest: str, mtime: float | None = None) -> None:
        os.makedirs(path, exist_ok=True)
        name = os.path.join(path, "link")
        with open(name, "w") as f:
            f.write("sha256:" + hexdigest)
        if mtime is not None:
            os.utime(name, (mtime, mtime))


def repository_name(i: int) -> str:
    # a third of the names are nested (names may contain '/')
    return f"team{i % 37}/image-{i:05d}" if i % 3 == 0 else f"toolforge-image-{i:05d}"


def layer_body(label: str, size: int = 512) -> bytes:
    seed = hashlib.sha256(label.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def generate(root: str, size: Size) -> Summary:
    w = Writer(root)
    repos_dir = os.path.join(w.v2, "repositories")
    shared = [w.blob(layer_body(f"base layer {n}", 2048)) for n in range(size.shared_layers)]
    shared_sizes = 2048
    tags_per_repo = max(1, size.tags // size.repositories)
    tag_no = 0
    for r in range(size.repositories):
        name = repository_name(r)
        repo = os.path.join(repos_dir, name)
        w.summary.repositories += 1
        layers_linked: set[str] = set()
        for t in range(tags_per_repo if r < size.repositories - 1 else size.tags - tag_no):
            tag = "latest" if t == 0 else f"v{t}"
            config = json.dumps(
                {"architecture": "amd64", "os": "linux", "image": f"{name}:{tag}"}
            ).encode()
            top = layer_body(f"{name}:{tag} top layer", 700)
            config_hex, top_hex = w.blob(config), w.blob(top)
            bases = [shared[(tag_no + k) % len(shared)] for k in (0, 7)]
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": DOCKER_MANIFEST,
                    "config": {
                        "mediaType": DOCKER_CONFIG,
                        "size": len(config),
                        "digest": "sha256:" + config_hex,
                    },
                    "layers": [
                        *(
                            {
                                "mediaType": DOCKER_LAYER,
                                "size": shared_sizes,
                                "digest": "sha256:" + b,
                            }
                            for b in bases
                        ),
                        {
                            "mediaType": DOCKER_LAYER,
                            "size": len(top),
                            "digest": "sha256:" + top_hex,
                        },
                    ],
                },
                indent=3,
            ).encode()
            manifest_hex = w.blob(manifest)
            pushed = NOW - YEAR * ((tag_no * 7919) % size.tags) / size.tags
            w.summary.newest_push = max(w.summary.newest_push, pushed)
            tag_dir = os.path.join(repo, "_manifests", "tags", tag)
            w.link(os.path.join(tag_dir, "current"), manifest_hex, pushed)
            w.link(os.path.join(tag_dir, "index", "sha256", manifest_hex), manifest_hex, pushed)
            w.link(
                os.path.join(repo, "_manifests", "revisions", "sha256", manifest_hex),
                manifest_hex,
                pushed,
            )
            for blob_hex in (config_hex, top_hex, *bases):
                if blob_hex not in layers_linked:
                    layers_linked.add(blob_hex)
                    w.link(os.path.join(repo, "_layers", "sha256", blob_hex), blob_hex, pushed)
            w.summary.tags += 1
            tag_no += 1
        os.makedirs(os.path.join(repo, "_uploads"), exist_ok=True)
    for u in range(size.uploads):
        repo = os.path.join(repos_dir, repository_name(u % size.repositories), "_uploads")
        upload = os.path.join(repo, str(uuid.UUID(int=u + 1)))
        os.makedirs(upload, exist_ok=True)
        with open(os.path.join(upload, "data"), "wb") as f:
            f.write(b"partial layer")
        started = NOW - (30 * 86400 if u % 4 == 0 else 600)
        with open(os.path.join(upload, "startedat"), "w") as f:
            f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)))
        w.summary.uploads += 1
    return w.summary


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in SIZES:
        print(f"usage: python -m bench.synthetic DIR [{'|'.join(SIZES)}]", file=sys.stderr)
        return 2
    begin = time.monotonic()
    summary = generate(argv[0], SIZES[argv[1]])
    print(f"{argv[1]}: {summary} in {time.monotonic() - begin:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
