"""Scrape latency of /metrics with every probe enabled, at each size, beside node_exporter.

    python -m bench.scrape [--requests N] [--path PATH] [SIZE ...]

The exporter renders cached readings, so its latency should be flat across
registry sizes. At each size an active exporter (write probe on) and a
standby exporter on the same tree (every probe: disk services api cert write
storage sync standby, comparing with the active) run with default
intervals; both are scraped once their first round of probes is done, then
prometheus-node-exporter (Debian) on the same machine in the same run as a
yardstick. `--path /` or `--path /api/status` times the status page or the
JSON status instead (both judge every cached reading on each request); node
exporter is then left out.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import requests

from bench.harness import describe, percentile, stack, wait_all_readings
from testbed.daemon import Daemon
from testbed.waiting import free_port, port_open, wait_until


def time_scrapes(url: str, count: int) -> tuple[list[float], int]:
    session = requests.Session()
    session.get(url, timeout=10).raise_for_status()  # warm-up
    latencies = []
    size = 0
    for _ in range(count):
        began = time.perf_counter()
        resp = session.get(url, timeout=10)
        latencies.append(time.perf_counter() - began)
        resp.raise_for_status()
        size = len(resp.content)
    return latencies, size


def node_exporter(workdir: Path, count: int) -> tuple[list[float], int] | None:
    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        return None
    port = free_port()
    daemon = Daemon([binary, f"--web.listen-address=127.0.0.1:{port}"], workdir / "node.log")
    daemon.start()
    try:
        wait_until(lambda: port_open(port), 10, "node exporter")
        return time_scrapes(f"http://127.0.0.1:{port}/metrics", count)
    finally:
        daemon.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--path", default="/metrics", help="what to time (default /metrics)")
    parser.add_argument("sizes", nargs="*", default=["small", "toolforge", "large"])
    args = parser.parse_args(argv)
    print(f"# {args.path} latency over {args.requests} sequential keep-alive requests, in ms")
    print(f"{'target':<44} {'bytes':>7}  latency")
    worst = 0.0
    for size in args.sizes:
        with stack(size, {"write_probe": True}) as s:
            s.exporter.start()
            wait_all_readings(s.exporter)  # the standby's first run needs the active's scan
            standby = s.standby(s.exporter.url, {"write_probe": True})
            try:
                standby.start()
                wait_all_readings(standby)
                for exporter in (s.exporter, standby):
                    for p in exporter.status()["probes"]:
                        if not p["ok"]:
                            print(f"# note: {exporter.config['node']} {p['probe']}: {p['error']}")
                for label, exporter in (("active", s.exporter), ("standby, all probes", standby)):
                    latencies, body = time_scrapes(f"{exporter.url}{args.path}", args.requests)
                    worst = max(worst, percentile(latencies, 99))
                    print(
                        f"{f'registry-exporter {size} {label}':<44} {body:>7}  "
                        f"{describe(latencies)}",
                        flush=True,
                    )
            finally:
                standby.stop()
            node = node_exporter(s.workdir, args.requests) if args.path == "/metrics" else None
            if node:
                print(
                    f"{'prometheus-node-exporter':<44} {node[1]:>7}  {describe(node[0])}",
                    flush=True,
                )
    verdict = "met" if worst < 0.010 else "MISSED"
    goal = f" (goal < 10 ms: {verdict})" if args.path == "/metrics" else ""
    print(f"worst registry-exporter p99 {worst * 1000:.2f} ms{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
