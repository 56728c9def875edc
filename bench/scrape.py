"""Scrape latency of /metrics with every probe enabled, at each size, beside node_exporter.

    python -m bench.scrape [--requests N] [SIZE ...]

The exporter renders cached readings, so its latency should be flat across
registry sizes. prometheus-node-exporter (Debian) is scraped on the same
machine in the same run as a yardstick.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import requests

from bench.harness import describe, stack
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
    parser.add_argument("sizes", nargs="*", default=["small", "toolforge", "large"])
    args = parser.parse_args(argv)
    print(f"# /metrics latency over {args.requests} sequential keep-alive scrapes, in ms")
    print(f"{'target':<34} {'bytes':>7}  latency")
    for size in args.sizes:
        with stack(size) as s:
            s.exporter.start()
            for probe in [p["probe"] for p in s.exporter.status()["probes"]]:
                s.exporter.wait_reading(probe, timeout=600)
            latencies, body = time_scrapes(f"{s.exporter.url}/metrics", args.requests)
            print(f"{'registry-exporter ' + size:<34} {body:>7}  {describe(latencies)}", flush=True)
            node = node_exporter(s.workdir, args.requests)
            if node:
                print(
                    f"{'prometheus-node-exporter':<34} {node[1]:>7}  {describe(node[0])}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
