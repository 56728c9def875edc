"""The storage scan at each size: against the floor of reading the tree, RSS, and a rescan.

    python -m bench.storage_scan [--runs 3] [SIZE ...]

On a warm page cache (as on a host that scans every 5 minutes), per size, with
the default config (the one operators run: rolling sha256 check and owner
sweep on, storage interval 300 s, a pass of each a day):

- the floor: `find DATA -name link -print0 | xargs -0 cat > /dev/null` plus
  `stat` of every blob's data file (the least any scan must do), best of runs;
- the real exporter (console script): its first scan, alone
  (`scan.stats.seconds`) and as the whole probe run, and its peak RSS (VmHWM);
- an unchanged rescan: the storage probe with the same default config, run
  in this process (so that the default 300 s interval need not pass between
  runs; its budgets follow the configured interval, not the wall clock):
  the scan alone and the whole probe run, median of runs, after a first run.
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import peak_rss_mb, pid_of, stack, tree
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.storage import StorageProbe

GOAL_RATIO = 1.5
GOAL_RESCAN_RATIO = 0.25
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


def rescans(data: Path, runs: int) -> tuple[float, float, float]:
    """(scan s, whole run s, CPU s of the whole run): medians of unchanged rescans of the
    storage probe with the default config, after its first run."""
    with tempfile.TemporaryDirectory(prefix="bench-rescan-") as tmp:
        config = Config(data_dir=data, registry_user=getpass.getuser(), state_dir=Path(tmp))
        probe = StorageProbe(config)
        timeout = config.timeouts.storage
        probe(Deadline(timeout))
        scans, walls, cpus = [], [], []
        for _ in range(runs):
            began, cpu = time.perf_counter(), time.process_time()
            status = probe(Deadline(timeout))
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
            scans.append(status.scan.stats.seconds)
            assert not status.scan.stats.changed, "the tree changed during the benchmark"
        return statistics.median(scans), statistics.median(walls), statistics.median(cpus)


def measure(size: str, runs: int) -> dict[str, float]:
    floor_s = floor(tree(size), runs)
    with stack(size) as s:
        s.exporter.start()
        first = s.exporter.wait_reading("storage", timeout=900)
        assert first["ok"], first["error"]
        rss = peak_rss_mb(pid_of(s.exporter))
    rescan_s, rescan_run_s, rescan_cpu_s = rescans(tree(size), runs)
    return {
        "floor_s": floor_s,
        "first_scan_s": scan_seconds(first),
        "first_run_s": float(first["duration_seconds"]),
        "rescan_s": rescan_s,
        "rescan_run_s": rescan_run_s,
        "rescan_cpu_s": rescan_cpu_s,
        "peak_rss_mb": rss,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="floor runs and rescans")
    parser.add_argument("sizes", nargs="*", default=["small", "toolforge", "large"])
    args = parser.parse_args(argv)
    print(
        f"# default config, warm page cache; floor best of {args.runs}; rescan median of "
        f"{args.runs}; scan = the scan alone, run = with the rolling sha256 and owner checks"
    )
    print(
        f"{'size':<10} {'floor s':>8} {'first scan s':>13} {'ratio':>6} {'first run s':>12} "
        f"{'rescan s':>9} {'rescan run s':>13} {'run/floor':>10} {'run CPU s':>10} "
        f"{'peak RSS MB':>12}"
    )
    for size in args.sizes:
        f = measure(size, args.runs)
        ratio = f["first_scan_s"] / f["floor_s"]
        rescan_ratio = f["rescan_run_s"] / f["floor_s"]
        print(
            f"{size:<10} {f['floor_s']:8.2f} {f['first_scan_s']:13.2f} {ratio:6.2f} "
            f"{f['first_run_s']:12.2f} {f['rescan_s']:9.2f} {f['rescan_run_s']:13.2f} "
            f"{rescan_ratio:10.3f} {f['rescan_cpu_s']:10.2f} {f['peak_rss_mb']:12.1f}",
            flush=True,
        )
        print(
            f"  goals: first scan <= {GOAL_RATIO}x floor: "
            f"{'met' if ratio <= GOAL_RATIO else 'MISSED'}; "
            f"unchanged rescan (whole run) <= {GOAL_RESCAN_RATIO}x floor: "
            f"{'met' if rescan_ratio <= GOAL_RESCAN_RATIO else 'MISSED'}; "
            f"peak RSS <= {GOAL_RSS_MB} MB: "
            f"{'met' if f['peak_rss_mb'] <= GOAL_RSS_MB else 'MISSED'}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
