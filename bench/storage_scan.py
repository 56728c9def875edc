"""Storage scan on a synthetic registry tree: time, rescan time, peak RSS, and the floor.

    .venv/bin/python bench/storage_scan.py [--repos 10000 --tags-per-repo 10
        --layers 100000 --root /var/tmp/registry-bench] [--keep]

Builds `docker/registry/v2/` as registry 2.8 lays it out: one manifest and
one config per tag, four layers per manifest from a shared pool, tag index
and `_layers` links (repos x tags-per-repo tags; blobs = 2 x tags + layers).
Then measures, on a warm page cache:

- the floor: `find DATA -name link -print0 | xargs -0 cat >/dev/null` plus a
  stat of every blob's data file;
- the real exporter (console script): the first storage run's and a rescan's
  duration from /api/status, and its peak RSS (VmHWM); then a standby
  exporter on the same tree comparing it with the active's inventory;
- the scan alone in this process, without the rolling checks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed.exporter import exporter_argv
from testbed.waiting import free_port, wait_until

LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def link(path: str, digest: str) -> None:
    write(path, f"sha256:{digest}".encode())


def blob(v2: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    write(f"{v2}/blobs/sha256/{digest[:2]}/{digest}/data", data)
    return digest


def build(root: Path, repos: int, tags_per_repo: int, layers: int) -> None:
    rng = random.Random(7)
    v2 = str(root / "docker/registry/v2")
    pool = [(blob(v2, f"layer {i}".encode() * 8), 8 * len(f"layer {i}")) for i in range(layers)]
    for r in range(repos):
        repo = f"{v2}/repositories/tools/tool-{r:05d}"
        linked: set[str] = set()
        for t in range(tags_per_repo):
            config = json.dumps({"architecture": "amd64", "repo": r, "tag": t}).encode()
            config_digest = blob(v2, config)
            chosen = rng.sample(pool, 4)
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_TYPE,
                    "config": {
                        "mediaType": "application/vnd.docker.container.image.v1+json",
                        "size": len(config),
                        "digest": f"sha256:{config_digest}",
                    },
                    "layers": [
                        {"mediaType": LAYER_TYPE, "size": size, "digest": f"sha256:{d}"}
                        for d, size in chosen
                    ],
                },
                indent=3,
            ).encode()
            digest = blob(v2, manifest)
            tag = f"{t:04d}"
            link(f"{repo}/_manifests/tags/{tag}/current/link", digest)
            link(f"{repo}/_manifests/tags/{tag}/index/sha256/{digest}/link", digest)
            link(f"{repo}/_manifests/revisions/sha256/{digest}/link", digest)
            linked.update([config_digest, *(d for d, _ in chosen)])
        for d in linked:
            link(f"{repo}/_layers/sha256/{d}/link", d)
        if r % 1000 == 999:
            print(f"  {r + 1} repositories written", flush=True)


def timed(command: str) -> float:
    begin = time.perf_counter()
    subprocess.run(["bash", "-c", command], check=True)
    return time.perf_counter() - begin


def floor(root: Path) -> tuple[float, float]:
    links = f"find {root} -name link -print0 | xargs -0 cat > /dev/null"
    stats = (
        f"find {root}/docker/registry/v2/blobs -name data -print0 | xargs -0 stat -c %s > /dev/null"
    )
    timed(links)  # warm the cache
    timed(stats)
    return timed(links), timed(stats)


class Running:
    """A registry-exporter process on a free port; VmHWM read from /proc."""

    def __init__(self, work: Path, name: str, config: dict[str, object]) -> None:
        self.port = free_port()
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        self.proc = subprocess.Popen(
            [
                *exporter_argv(),
                "--config",
                str(path),
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def reading(self, probe: str, after: float, timeout: float = 900) -> dict[str, object]:
        def ready() -> dict[str, object] | None:
            status = requests.get(f"{self.url}/api/status", timeout=5).json()
            entry = next(p for p in status["probes"] if p["probe"] == probe)
            return entry if (entry.get("started_at") or 0) > after else None

        result: dict[str, object] = wait_until(ready, timeout, f"a {probe} reading")
        return result

    def peak_mb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def exporters_run(root: Path, work: Path) -> dict[str, object]:
    """The active's exporter: first run and a rescan; then a standby exporter on the
    same tree comparing it with the active's inventory (in step, at full size)."""
    slow = dict.fromkeys(("disk", "services", "api", "cert"), 600)
    base: dict[str, object] = {
        "data_dir": str(root),
        "cert_file": None,
        "write_probe": False,
        "registry_user": None,
        "state_dir": str(work / "state"),
    }
    active = Running(
        work,
        "active",
        {**base, "intervals": {**slow, "storage": 150}, "timeouts": {"storage": 150}},
    )
    figures: dict[str, object] = {}
    try:
        first = active.reading("storage", 0)
        figures["active_first_run_s"] = first["duration_seconds"]
        figures["active_first_run_ok"] = first["ok"]
        again = active.reading("storage", float(first["started_at"]))  # type: ignore[arg-type]
        figures["active_rescan_run_s"] = again["duration_seconds"]
        figures["active_peak_rss_mb"] = active.peak_mb()
        standby = Running(
            work,
            "standby",
            {
                **base,
                "role": "standby",
                "node": "bench-standby",
                "active_exporter_url": active.url,
                "intervals": {**slow, "storage": 600, "standby": 150, "sync": 600},
                "timeouts": {"storage": 150, "standby": 150},
            },
        )
        try:
            entry = standby.reading("standby", 0)
            value = entry.get("value") or {}
            figures["standby_first_run_s"] = entry["duration_seconds"]
            figures["standby_in_step"] = value.get("in_step") if isinstance(value, dict) else None
            figures["standby_error"] = entry["error"]
            figures["standby_peak_rss_mb"] = standby.peak_mb()
        finally:
            standby.stop()
    finally:
        active.stop()
    return figures


def in_process(root: Path) -> dict[str, float]:
    import resource

    import exporter.server  # noqa: F401 - the exporter's own baseline
    from exporter.memory import tune_malloc
    from exporter.probes.reading import Deadline
    from exporter.storage.scan import Scanner

    tune_malloc()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    scanner = Scanner(root, "bench", "active", 7 * 86400)
    begin = time.perf_counter()
    first = scanner.scan(Deadline(600))
    first_s = time.perf_counter() - begin
    begin = time.perf_counter()
    again = scanner.scan(Deadline(600))
    rescan_s = time.perf_counter() - begin
    body = first.inventory.body
    etag_body = body.size if body is not None else 0
    return {
        "baseline_rss_mb": base,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "first_scan_s": first_s,
        "rescan_s": rescan_s,
        "rescan_links_read": again.stats.tag_links_read,
        "rescan_manifests_parsed": again.stats.manifests_parsed,
        "repositories": first.repositories,
        "tags": first.tags,
        "blobs": first.blobs,
        "inventory_gzip_bytes": etag_body,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--tags-per-repo", type=int, default=10)
    parser.add_argument("--layers", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the tree for another run")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args.root)))
        return 0
    root = args.root or Path(tempfile.mkdtemp(prefix="registry-bench-", dir="/var/tmp"))
    try:
        if not (root / "docker").exists():
            print(f"building the tree in {root} ...", flush=True)
            begin = time.perf_counter()
            build(root, args.repos, args.tags_per_repo, args.layers)
            print(f"  built in {time.perf_counter() - begin:.0f}s", flush=True)
        links_s, stats_s = floor(root)
        print(
            f"floor: cat of every link {links_s:.2f}s + stat of every blob {stats_s:.2f}s "
            f"= {links_s + stats_s:.2f}s"
        )
        work = Path(tempfile.mkdtemp(prefix="registry-bench-exporter-"))
        try:
            real = exporters_run(root, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print("exporter processes (storage runs include the rolling checks):")
        for key, val in real.items():
            print(f"  {key}: {val:.2f}" if isinstance(val, float) else f"  {key}: {val}")
        out = subprocess.run(
            [sys.executable, __file__, "--in-process", "--root", str(root)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures = json.loads(out)
        print("scan alone (in a process with the exporter's modules loaded):")
        for key, val in figures.items():
            print(f"  {key}: {val:.2f}" if isinstance(val, float) else f"  {key}: {val}")
        floor_s = links_s + stats_s
        print(
            f"first scan / floor = {figures['first_scan_s'] / floor_s:.2f}, "
            f"rescan / first scan = {figures['rescan_s'] / figures['first_scan_s']:.2f}"
        )
    finally:
        if not args.keep and args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
