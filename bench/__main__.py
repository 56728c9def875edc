"""Every benchmark, one after the other (`make bench`; `make bench BENCH_QUICK=1`).

    python -m bench [--quick] [--only NAME ...]

Each runs in its own process and prints its figures and whether each goal
is met. The full run takes about half an hour on 2 cores (plus a few
minutes, once, to write the large synthetic tree); `--quick` leaves out the
large size, shortens the steady-state window to a minute and takes fewer
samples, for a run of a few minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

FULL = {
    "check_startup": ["bench/check_startup.py", "--runs", "20"],
    "check_path": ["bench/check_path.py", "--runs", "25"],
    "scrape": ["-m", "bench.scrape", "--requests", "1000", "small", "toolforge", "large"],
    "storage_scan": ["-m", "bench.storage_scan", "--runs", "3", "small", "toolforge", "large"],
    "standby": ["-m", "bench.standby", "large"],
    "steady": ["-m", "bench.steady", "--seconds", "300", "toolforge"],
    "steady_standby": ["-m", "bench.steady", "--seconds", "300", "--standby", "toolforge"],
    "recovery_point": ["-m", "bench.recovery_point", "--pushes", "5"],
    "idle_connections": ["-m", "bench.idle_connections", "0", "100", "300", "1000", "3000"],
    "traffic": ["-m", "bench.traffic", "--seconds", "60"],
    "rotation": ["-m", "bench.rotation", "--seconds", "30"],
    "slow_lines": ["-m", "bench.slow_lines"],
    "pull": ["-m", "bench.pull", "--layer-mib", "64", "--layers", "3", "--runs", "3"],
    "cert_facts": ["-m", "bench.cert_facts", "--flips", "1000"],
    "hostile_peer": ["-m", "bench.hostile_peer", "--rounds", "3"],
    "sync_guard": ["-m", "bench.sync_guard", "--runs", "3", "toolforge"],
    "sync_guard_references": ["-m", "bench.sync_guard_references", "toolforge", "large"],
}
QUICK = {
    "check_startup": ["bench/check_startup.py", "--runs", "5"],
    "check_path": ["bench/check_path.py", "--runs", "5"],
    "scrape": ["-m", "bench.scrape", "--requests", "200", "small", "toolforge"],
    "storage_scan": ["-m", "bench.storage_scan", "--runs", "1", "toolforge"],
    "standby": ["-m", "bench.standby", "--interval", "15", "toolforge"],
    "steady": ["-m", "bench.steady", "--seconds", "60", "toolforge"],
    "steady_standby": ["-m", "bench.steady", "--seconds", "60", "--standby", "toolforge"],
    "recovery_point": ["-m", "bench.recovery_point", "--pushes", "2"],
    "idle_connections": ["-m", "bench.idle_connections", "--requests", "50", "0", "300", "1000"],
    "traffic": ["-m", "bench.traffic", "--seconds", "20", "--million", "250000"],
    "rotation": ["-m", "bench.rotation", "--seconds", "15"],
    "slow_lines": ["-m", "bench.slow_lines", "--lines", "10000"],
    "pull": ["-m", "bench.pull", "--layer-mib", "16", "--layers", "2", "--runs", "1"],
    "cert_facts": ["-m", "bench.cert_facts", "--flips", "300"],
    "hostile_peer": ["-m", "bench.hostile_peer", "--rounds", "1"],
    "sync_guard": ["-m", "bench.sync_guard", "--runs", "1", "toolforge"],
    "sync_guard_references": ["-m", "bench.sync_guard_references", "toolforge"],
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few minutes, without 'large'")
    parser.add_argument("--only", action="append", choices=sorted(FULL), help="run just these")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    failed = []
    for name, command in plan.items():
        if args.only and name not in args.only:
            continue
        print(f"\n== {name}: python {' '.join(command)}", flush=True)
        began = time.monotonic()
        code = subprocess.run([sys.executable, *command], check=False).returncode
        print(f"== {name} done in {time.monotonic() - began:.0f} s, exit {code}", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
