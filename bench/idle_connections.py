"""Scrape latency while other clients hold connections open and send nothing useful.

    python -m bench.idle_connections [--requests N] [--header-timeout S] [HELD ...]

For each count, that many connections are opened to the exporter and left
sending nothing, half a request line or half the headers (a third each),
then /metrics is scraped N times on a fresh keep-alive connection. Prints
the scrape latency, the answers other than 200, and how many of the held
connections the exporter had closed by the end (past --web.max-connections,
512, the ones idle longest give way; after the header time-out, all).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.harness import describe
from testbed.exporter import Exporter
from testbed.waiting import wait_until

PARTIALS = (b"", b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")


def closed(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def measure(exporter: Exporter, held_count: int, requests_count: int) -> None:
    held = []
    try:
        for i in range(held_count):
            s = socket.create_connection(("127.0.0.1", exporter.port), timeout=5)
            if PARTIALS[i % 3]:
                s.sendall(PARTIALS[i % 3])
            held.append(s)
        session = requests.Session()
        latencies, refused = [], 0
        for _ in range(requests_count):
            began = time.perf_counter()
            resp = session.get(f"{exporter.url}/metrics", timeout=10)
            latencies.append(time.perf_counter() - began)
            refused += resp.status_code != 200
        gone = sum(closed(s) for s in held)
        print(
            f"held {held_count:5d}: scrape ms {describe(latencies)}; not 200: {refused}; "
            f"held connections closed by the exporter: {gone}",
            flush=True,
        )
    finally:
        for s in held:
            s.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--header-timeout", default="10")
    parser.add_argument("held", nargs="*", type=int, default=[0, 100, 300, 1000, 3000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        config = {
            "node": "bench",
            "data_dir": str(data),
            "backend_url": "http://127.0.0.1:9",
            "public_url": "http://127.0.0.1:9",
            "cert_file": None,
        }
        exporter = Exporter(
            Path(tmp) / "exporter", config, args=("--web.header-timeout", args.header_timeout)
        )
        exporter.start()
        try:
            for count in args.held:
                measure(exporter, count, args.requests)
                # the next round starts from no held connections
                wait_until(lambda: exporter.healthy(), 10, "exporter")
        finally:
            exporter.stop()
        log = exporter.daemon.log_path.read_text().splitlines()
        lines = [x for x in log if "registry_exporter.connections" in x]
        print(f"log lines about closed connections over the whole run: {len(lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
