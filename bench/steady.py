"""The exporter's cost on its host: CPU % of one core and RSS over a window, default intervals.

    python -m bench.steady [--seconds 300] [--standby] [SIZE]

Prometheus scrapes every 15 s during the window, as it would in production.
With --standby, the measured exporter is a standby in step (every probe but
write, default intervals) on the same tree, comparing with the active's.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import psutil
import requests

from bench.harness import stack


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--scrape-interval", type=float, default=15)
    parser.add_argument("--standby", action="store_true", help="measure a standby exporter")
    parser.add_argument("size", nargs="?", default="toolforge")
    args = parser.parse_args(argv)
    with stack(args.size, {"write_probe": not args.standby}) as s:
        s.exporter.start()
        measured = s.exporter
        if args.standby:
            s.exporter.wait_reading("storage", timeout=900)
            measured = s.standby(s.exporter.url)
            measured.start()
        probes = [p["probe"] for p in measured.status()["probes"]]
        for probe in probes:  # the first full round (storage's first scan) is not steady state
            measured.wait_reading(probe, timeout=900)
        assert measured.daemon.proc is not None
        proc = psutil.Process(measured.daemon.proc.pid)
        stop = threading.Event()

        def scrape() -> None:
            while not stop.wait(args.scrape_interval):
                requests.get(f"{measured.url}/metrics", timeout=5)

        scraper = threading.Thread(target=scrape, daemon=True)
        scraper.start()
        cpu0 = proc.cpu_times()
        began = time.monotonic()
        peak_rss = 0
        while time.monotonic() - began < args.seconds:
            peak_rss = max(peak_rss, proc.memory_info().rss)
            time.sleep(1)  # sampling period of a measurement, not a wait for a condition
        cpu1 = proc.cpu_times()
        elapsed = time.monotonic() - began
        stop.set()
        used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        names = ",".join(probes)
        role = "standby" if args.standby else "active"
        print(
            f"# {args.size} tree, {role} exporter, probes {names}, default intervals, "
            f"{elapsed:.0f}s window"
        )
        cpu = 100 * used / elapsed
        print(f"cpu_percent_of_one_core {cpu:.2f}  (goal <= 1: {'met' if cpu <= 1 else 'MISSED'})")
        rss = peak_rss / 2**20
        print(f"rss_peak_mb {rss:.1f}  (goal <= 80: {'met' if rss <= 80 else 'MISSED'})")
        print(f"rss_end_mb {proc.memory_info().rss / 2**20:.1f}")
        if measured is not s.exporter:
            measured.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
