"""The benchmarks' synthetic registry is one the real registry serves."""

from pathlib import Path

import requests

from bench.synthetic import SIZES, generate, repository_name
from testbed.images import digest_of
from testbed.registry import Registry


def test_real_registry_serves_a_generated_tree(tmp_path: Path) -> None:
    size = SIZES["tiny"]
    summary = generate(str(tmp_path / "data"), size)
    assert (summary.repositories, summary.tags, summary.blobs, summary.uploads) == (4, 10, 33, 2)
    assert summary.blobs == size.expected_blobs
    reg = Registry(tmp_path / "reg", data_dir=tmp_path / "data").start()
    try:
        catalog = requests.get(f"{reg.url}/v2/_catalog", timeout=5).json()["repositories"]
        assert catalog == sorted(repository_name(i) for i in range(4))
        name = repository_name(3)  # nested: team3/image-00003
        tags = requests.get(f"{reg.url}/v2/{name}/tags/list", timeout=5).json()["tags"]
        assert sorted(tags) == ["latest", "v1", "v2", "v3"]
        resp = requests.get(
            f"{reg.url}/v2/{name}/manifests/v2",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=5,
        )
        assert resp.status_code == 200
        assert resp.headers["Docker-Content-Digest"] == digest_of(resp.content)
        layer = resp.json()["layers"][-1]
        blob = requests.get(f"{reg.url}/v2/{name}/blobs/{layer['digest']}", timeout=5)
        assert (blob.status_code, digest_of(blob.content), len(blob.content)) == (
            200,
            layer["digest"],
            layer["size"],
        )
    finally:
        reg.stop()
