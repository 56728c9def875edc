"""What the sync guard adds before each sync: `check_registry sync-guard` on a synthetic tree.

    python -m bench.sync_guard [--runs 3] [SIZE]

The tree is served by a real rsync daemon (the active's module) and by an active
exporter (its inventory); the guard runs as the standby on the same tree (a standby
in step: the dry run finds nothing to delete, but walks both sides as a real sync
does), as the sync unit runs it, in a new process each time. Printed: the whole run's
wall time and each measurement's own time (-vv), per run.
Goal: under a tenth of the timer's period (60 s) at every size, so a sync is never
pushed past its slot by its guard.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.harness import stack
from testbed.rsync import RsyncDaemon

GOAL_SECONDS = 60.0
STEP = re.compile(r"(\w+) probe ran ([\d.]+) s")  # -vv: each measurement's own time
CHECK_REGISTRY = str(Path(sys.executable).parent / "check_registry")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("size", nargs="?", default="toolforge")
    args = parser.parse_args(argv)
    slow = {"intervals": {"storage": 600}, "timeouts": {"storage": 240}}
    with stack(args.size, slow) as s:
        s.exporter.start()
        s.exporter.wait_reading("storage", timeout=900)
        data = Path(s.exporter.config["data_dir"])
        rsyncd = RsyncDaemon(s.workdir / "rsyncd", data).start()
        try:
            s.standby(s.exporter.url)  # records a good sync in the fake systemd
            config = {
                **s.exporter.config,
                "node": s.exporter.config["node"] + "-standby",
                "role": "standby",
                "active_exporter_url": s.exporter.url,
                "state_dir": str(s.workdir / "guard-state"),
                "systemctl": str(s.systemd.systemctl),
                "sync_guard": {"source": rsyncd.url},
            }
            path = s.workdir / "guard.yaml"
            path.write_text(yaml.safe_dump(config))
            print(f"# {args.size} tree, {args.runs} runs of check_registry sync-guard -vv")
            walls = []
            for run in range(args.runs):
                began = time.monotonic()
                done = subprocess.run(
                    [CHECK_REGISTRY, f"--config={path}", "sync-guard", "-vv"],
                    capture_output=True,
                    text=True,
                    check=False,
                    env=s.env,
                    timeout=900,
                )
                wall = time.monotonic() - began
                walls.append(wall)
                lines = done.stdout.splitlines()
                steps = "  ".join(
                    m[1] + " " + m[2] + " s" for line in lines if (m := STEP.fullmatch(line))
                )
                print(f"run {run + 1}: exit {done.returncode}, wall {wall:.2f} s  {steps}")
                print(f"  {lines[0] if lines else done.stderr}", flush=True)
            median = statistics.median(walls)
            verdict = "met" if median < GOAL_SECONDS else "MISSED"
            print(f"median {median:.2f} s (goal < {GOAL_SECONDS:.0f} s: {verdict})")
        finally:
            rsyncd.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
