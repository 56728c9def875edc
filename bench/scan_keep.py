"""Is the scanner's cleverness worth its code? Full scan against incremental rescan, and
full digests spilled to a file against held in memory, on the cached synthetic trees.

    python -m bench.scan_keep SIZE {spill,memory}

One process per mode (peak RSS is per process): a full scan of a fresh
Scanner, then three unchanged rescans; prints wall and CPU time of each and
the process's peak RSS. `memory` replaces the spill file with a dict in the
process, as the scanner would be without it. The figures are quoted in the
docstring of registry_monitor/storage/scan.py.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

from registry_monitor.base import Deadline
from registry_monitor.storage import walk
from registry_monitor.storage.scan import Scanner
from registry_monitor.storage.snapshot import StorageSnapshot


class InMemory:
    """Spill's interface, the bytes kept in this process."""

    def __init__(self) -> None:
        self.parts: dict[tuple[int, int], bytes] = {}
        self.size = self.live = 0

    def put(self, data: bytes) -> tuple[int, int]:
        ref = (self.size, len(data))
        self.parts[ref] = bytes(data)
        self.size += len(data)
        self.live += len(data)
        return ref

    def get(self, ref: tuple[int, int]) -> bytes:
        return self.parts.get(ref, b"")

    def release(self, ref: tuple[int, int]) -> None:
        self.live -= ref[1]
        self.parts.pop(ref, None)

    def wasteful(self) -> bool:
        return False

    def close(self) -> None:
        pass


def timed(scanner: Scanner) -> tuple[float, float, StorageSnapshot]:
    wall, cpu = time.perf_counter(), time.process_time()
    snapshot = scanner.scan(Deadline(3600))
    return time.perf_counter() - wall, time.process_time() - cpu, snapshot


def main(argv: list[str]) -> int:
    size, mode = argv
    if mode == "memory":
        walk.Spill = InMemory  # type: ignore[assignment,misc]
    # the tree other benchmarks generated (bench.harness, not imported: its daemons'
    # modules would weigh on the peak RSS measured here)
    trees = Path(os.environ.get("BENCH_TREES") or "/var/tmp/registry-monitor-bench/trees")
    if not (trees / size).is_dir():
        print(f"no {size} tree in {trees}: run python -m bench.storage_scan {size} first")
        return 2
    scanner = Scanner(trees / size, "bench", "active", 86400)
    full_wall, full_cpu, snapshot = timed(scanner)
    rescans = sorted(timed(scanner)[:2] for _ in range(3))
    wall, cpu = rescans[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{size} {mode}: {snapshot.blobs} blobs; full scan {full_wall:.2f} s wall, "
        f"{full_cpu:.2f} s CPU; unchanged rescan (median of 3) {wall:.3f} s wall, "
        f"{cpu:.3f} s CPU; peak RSS {peak:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
