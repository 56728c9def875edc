"""The storage scan at each size: against the floor of reading the tree, RSS, and a rescan.

    python -m bench.storage_scan [--runs 3] [SIZE ...]

On a warm page cache (as on a host that scans every 5 minutes), per size:

- the floor: `find DATA -name link -print0 | xargs -0 cat > /dev/null` plus
  `stat` of every blob's data file (the least any scan must do), best of runs;
- the real exporter (console script) with the storage probe on a short
  interval: its first scan and a rescan of the unchanged tree, each as the
  scan alone (`scan.stats.seconds`) and as the whole probe run (with the
  rolling sha256 and owner checks); its peak RSS (VmHWM) after both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import peak_rss_mb, pid_of, stack, tree

GOAL_RATIO = 1.5
GOAL_RSS_MB = 100


def timed(command: str) -> float:
    began = time.perf_counter()
    subprocess.run(["bash", "-c", command], check=True)
    return time.perf_counter() - began


def floor(data: Path, runs: int) -> float:
    """Best of `runs` (after a warm-up): cat of every link plus stat of every blob."""
    command = (
        f"find {data} -name link -print0 | xargs -0 cat > /dev/null && "
        f"find {data}/docker/registry/v2/blobs -name data -print0 | xargs -0 stat -c %s > /dev/null"
    )
    timed(command)
    return min(timed(command) for _ in range(runs))


def scan_seconds(entry: dict[str, Any]) -> float:
    return float(entry["value"]["scan"]["stats"]["seconds"])


def measure(size: str, runs: int, interval: float) -> dict[str, float]:
    floor_s = floor(tree(size), runs)
    config = {"intervals": {"storage": interval}, "timeouts": {"storage": interval}}
    with stack(size, config) as s:
        s.exporter.start()
        first = s.exporter.wait_reading("storage", timeout=900)
        assert first["ok"], first["error"]
        rescans = []
        entry = first
        for _ in range(runs):
            entry = s.exporter.wait_reading("storage", entry["started_at"], timeout=900)
            assert entry["ok"], entry["error"]
            rescans.append(entry)
        return {
            "floor_s": floor_s,
            "first_scan_s": scan_seconds(first),
            "first_run_s": float(first["duration_seconds"]),
            "rescan_s": statistics.median(scan_seconds(e) for e in rescans),
            "rescan_run_s": statistics.median(float(e["duration_seconds"]) for e in rescans),
            "peak_rss_mb": peak_rss_mb(pid_of(s.exporter)),
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="floor runs and rescans")
    parser.add_argument("--interval", type=float, default=60, help="storage probe interval")
    parser.add_argument("sizes", nargs="*", default=["small", "toolforge", "large"])
    args = parser.parse_args(argv)
    print(
        f"# warm page cache; floor best of {args.runs}; rescan median of {args.runs}; "
        "scan = the scan alone, run = with the rolling checks"
    )
    print(
        f"{'size':<10} {'floor s':>8} {'first scan s':>13} {'ratio':>6} {'first run s':>12} "
        f"{'rescan s':>9} {'rescan run s':>13} {'peak RSS MB':>12}"
    )
    for size in args.sizes:
        f = measure(size, args.runs, args.interval)
        ratio = f["first_scan_s"] / f["floor_s"]
        print(
            f"{size:<10} {f['floor_s']:8.2f} {f['first_scan_s']:13.2f} {ratio:6.2f} "
            f"{f['first_run_s']:12.2f} {f['rescan_s']:9.2f} {f['rescan_run_s']:13.2f} "
            f"{f['peak_rss_mb']:12.1f}",
            flush=True,
        )
        print(
            f"  goals: first scan <= {GOAL_RATIO}x floor: "
            f"{'met' if ratio <= GOAL_RATIO else 'MISSED'}; "
            f"peak RSS <= {GOAL_RSS_MB} MB: "
            f"{'met' if f['peak_rss_mb'] <= GOAL_RSS_MB else 'MISSED'}; "
            f"rescan / first scan {f['rescan_s'] / f['first_scan_s']:.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
