"""What the standby's comparison costs: the active's inventory on the wire, first and unchanged.

    python -m bench.standby [--interval 90] [SIZE]

An active exporter scans the synthetic tree; a standby exporter on the same
tree (a standby in step) fetches the active's `/api/inventory` through a
counting TCP proxy. Bytes are the TCP payload both ways (request and
response, headers and body). Printed: the standby probe's first run (200),
its next run (304: unchanged, ETag matched), a fetch of each kind timed
from this process, and both exporters' peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import requests

from bench.harness import peak_rss_mb, pid_of, stack
from bench.proxy import counting_proxy
from registry_monitor.storage.inventory_wire import MEDIA_TYPE

KB = 1024


def timed_fetch(url: str, etag: str | None) -> tuple[int, float, str | None]:
    """(status, seconds to the last byte, ETag) of one gzip fetch, on a new connection."""
    headers = {"Accept": MEDIA_TYPE, "Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    began = time.perf_counter()
    with requests.get(url, headers=headers, stream=True, timeout=120) as resp:
        for _ in resp.raw.stream(65536, decode_content=False):
            pass
        return resp.status_code, time.perf_counter() - began, resp.headers.get("ETag")


def probe_run(entry: dict[str, Any]) -> tuple[str, float, bool | None, str | None]:
    value = entry.get("value") or {}
    return (
        str(value.get("response")),
        float(entry["duration_seconds"]),
        value.get("in_step"),
        entry.get("error"),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=90, help="standby probe interval")
    parser.add_argument("size", nargs="?", default="large")
    args = parser.parse_args(argv)
    slow = {"intervals": {"storage": 600}, "timeouts": {"storage": 240}}
    with stack(args.size, slow) as s:
        s.exporter.start()
        s.exporter.wait_reading("storage", timeout=900)
        with counting_proxy(s.exporter.port) as proxy:
            url = f"{proxy.url}/api/inventory"
            status, first_s, etag = timed_fetch(url, None)
            after_first = proxy.counts()
            status304, unchanged_s, _ = timed_fetch(url, etag)
            after_unchanged = proxy.counts()
            print(f"# {args.size} tree; bytes are TCP payload through a counting proxy")
            columns = f"{'status':>6} {'request B':>10} {'response B':>11}"
            print(f"{'inventory fetch':<40} {columns}  time")
            print(
                f"{'first (this process)':<40} {status:>6} {after_first[0]:>10} "
                f"{after_first[1]:>11}  {first_s * 1000:.0f} ms"
            )
            print(
                f"{'unchanged, If-None-Match (this process)':<40} {status304:>6} "
                f"{after_unchanged[0] - after_first[0]:>10} "
                f"{after_unchanged[1] - after_first[1]:>11}  {unchanged_s * 1000:.1f} ms",
                flush=True,
            )
            standby = s.standby(
                proxy.url,
                {
                    "write_probe": False,
                    "intervals": {"storage": 600, "standby": args.interval, "sync": 600},
                    "timeouts": {"storage": 240, "standby": args.interval},
                },
            )
            try:
                before = proxy.counts()
                standby.start()
                first = standby.wait_reading("standby", timeout=900)
                mid = proxy.counts()
                second = standby.wait_reading("standby", first["started_at"], timeout=900)
                end = proxy.counts()
                for label, entry, (a, b) in (
                    ("standby probe, first run", first, (before, mid)),
                    ("standby probe, next run", second, (mid, end)),
                ):
                    how, took, in_step, error = probe_run(entry)
                    print(
                        f"{label:<40} {how.split()[0]:>6} {b[0] - a[0]:>10} {b[1] - a[1]:>11}  "
                        f"run {took:.2f} s (with its own incremental scan); in_step {in_step}"
                        + (f"; error {error}" if error else "")
                    )
                unchanged = (end[0] - mid[0]) + (end[1] - mid[1])
                verdict = "met" if unchanged < KB else "MISSED"
                print(f"unchanged on the wire: {unchanged} B (goal < 1024 B: {verdict})")
                print(f"peak RSS: active {peak_rss_mb(pid_of(s.exporter)):.1f} MB, ", end="")
                print(f"standby {peak_rss_mb(pid_of(standby)):.1f} MB (goal <= 100 MB)")
            finally:
                standby.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
