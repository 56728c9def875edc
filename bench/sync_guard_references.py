"""What the sync guard's reference check costs (registry_monitor/sync_guard/references.py).

    python -m bench.sync_guard_references [--runs 3] [SIZE ...]

The check runs only when the dry run would delete content, and then walks every tag's
manifests on this node's last scan once. Here, on each synthetic tree, scanned once in
this process as the guard scans it: the CPU time of the check against a deletion of
one shared base layer (needed by many tags) and of 1,000 blobs, best of runs, and the
peak RSS it adds to the scan's.
Goal: under a second of CPU at the Toolforge size, next to the guard's whole run of
about 15 s there (bench/README.md, "Sync guard").
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from bench.harness import tree
from bench.synthetic import repository_name
from registry_monitor.base import Deadline
from registry_monitor.storage.scan import Scanner
from registry_monitor.sync_guard.dry_run import Removals, _Counter
from registry_monitor.sync_guard.references import Needed, needed

GOAL_CPU_SECONDS = 1.0
V2 = "docker/registry/v2/"


def removals(digests: list[str]) -> Removals:
    counter = _Counter()
    for d in digests:
        counter.line(f"*deleting   {V2}blobs/sha256/{d[:2]}/{d}/data")
    found = counter.removals()
    assert found is not None
    return found


def best(scanner: Scanner, what: Removals, runs: int) -> tuple[float, Needed]:
    times, found = [], None
    for _ in range(runs):
        began = time.process_time()
        found = needed(scanner.tree, what, Deadline(600))
        times.append(time.process_time() - began)
    assert found is not None
    return min(times), found


def base_layer(root: Path) -> str:
    """The first layer of the first repository's `latest`: a base layer many images share."""
    repo = root / V2 / "repositories" / repository_name(0)
    digest = (repo / "_manifests/tags/latest/current/link").read_text().removeprefix("sha256:")
    manifest = json.loads((root / V2 / f"blobs/sha256/{digest[:2]}/{digest}/data").read_bytes())
    return str(manifest["layers"][0]["digest"]).removeprefix("sha256:")


def first_blobs(root: Path, count: int) -> list[str]:
    """The first `count` blobs by digest, listing no more buckets than needed (a list of
    every blob would weigh on the peak RSS measured here)."""
    found: list[str] = []
    for bucket in sorted((root / V2 / "blobs/sha256").iterdir()):
        found += sorted(d.name for d in bucket.iterdir())
        if len(found) >= count:
            break
    return found[:count]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("sizes", nargs="*", default=["toolforge"])
    args = parser.parse_args(argv)
    met = True
    for size in args.sizes:
        root = tree(size)
        scanner = Scanner(root, "bench", "standby", 3600.0)
        began = time.process_time()
        scanner.scan(Deadline(900))
        scan_cpu, scan_peak = time.process_time() - began, peak_mb()
        blobs = first_blobs(root, 1000)
        base = removals([base_layer(root)])
        many = removals(blobs)
        base_cpu, base_found = best(scanner, base, args.runs)
        many_cpu, many_found = best(scanner, many, args.runs)
        print(
            f"{size}: scan {scan_cpu:.2f} s CPU, peak {scan_peak:.0f} MiB; check, 1 blob "
            f"deleted ({base_found.tags} tags need it): {base_cpu:.3f} s CPU; 1,000 blobs "
            f"deleted ({many_found.blobs} needed by {many_found.tags} tags): {many_cpu:.3f} s "
            f"CPU; peak {peak_mb():.0f} MiB"
        )
        if size == "toolforge":
            ok = max(base_cpu, many_cpu) < GOAL_CPU_SECONDS
            met &= ok
            print(
                f"goal: under {GOAL_CPU_SECONDS:g} s CPU at toolforge: {'met' if ok else 'MISSED'}"
            )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
