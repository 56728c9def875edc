"""The access log's cost: lines parsed per second on one core, the exporter's CPU while it
follows a log written at a steady rate, and its memory over a million lines.

    python -m bench.traffic [--lines 200000] [--rate 2000] [--seconds 60] [--million 1000000]

1. parse: Parser.parse + Tally.add over realistic registry_monitor lines, in this
   process, one thread (the probe's own loop); and end to end through the Follower
   (file read, split, parse, count) on a file of the same lines.
2. follow: a real registry-exporter with access_log set (every other probe on a long
   interval), a writer appending --rate lines/s for --seconds; the exporter's CPU (% of
   one core) over that window, and over a window of the same length with no lines
   (its baseline).
3. memory: the same exporter fed --million lines as fast as it reads them; RSS after
   each quarter. Goals: >= 50,000 lines/s parsed, < 5 % of a core at 2,000 lines/s,
   RSS flat (within 5 MiB) across the million.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from registry_monitor.accesslog.follow import Follower
from registry_monitor.accesslog.formats import Parser
from registry_monitor.accesslog.tally import Tally
from testbed.exporter import Exporter
from tests.support.metrics import value

ROUTES = (  # (weight, method, target, status, header time): a day of pulls, a few pushes
    (40, "GET", "/v2/toolforge-{n}-sssd-base/blobs/sha256:{h}", 200, "0.004"),
    (20, "HEAD", "/v2/toolforge-{n}-sssd-base/manifests/latest", 200, "0.002"),
    (10, "GET", "/v2/toolforge-{n}-sssd-base/manifests/sha256:{h}", 200, "0.003"),
    (8, "GET", "/v2/", 401, "0.001"),
    (6, "GET", "/v2/", 200, "0.001"),
    (4, "HEAD", "/v2/tool-{n}/tool-{n}/blobs/sha256:{h}", 404, "0.002"),
    (3, "POST", "/v2/tool-{n}/tool-{n}/blobs/uploads/", 202, "0.010"),
    (3, "PUT", "/v2/tool-{n}/tool-{n}/blobs/uploads/{h}?digest=sha256:{h}", 201, "0.200"),
    (2, "PUT", "/v2/tool-{n}/tool-{n}/manifests/latest", 201, "0.020"),
    (2, "GET", "/v2/_catalog?n=1000", 200, "0.150"),
    (1, "GET", "/v2/tool-{n}/tool-{n}/tags/list", 200, "0.010"),
    (1, "GET", "/v2/toolforge-{n}-sssd-base/manifests/nope", 404, "0.002"),
    (1, "GET", "/v2/toolforge-{n}-sssd-base/blobs/sha256:{h}", 502, "-"),
)


def lines(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    weights = [r[0] for r in ROUTES]
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    out = []
    for route in rng.choices(ROUTES, weights, k=n):
        _, method, target, status, header = route
        target = target.format(n=rng.randrange(1000), h=f"{rng.getrandbits(256):064x}")
        seconds = rng.expovariate(20)
        out.append(
            f"172.16.{rng.randrange(256)}.{rng.randrange(256)} - - [{stamp}] "
            f'"{method} {target} HTTP/1.1" {status} {rng.randrange(10**7)} "-" '
            f'"containerd/v1.7.20" {seconds:.3f} "{header}" "{status}" '
            f'"docker-registry.tools.wmflabs.org" "{header}"\n'
        )
    return out


def parse_rate(sample: list[str]) -> float:
    parser, tally = Parser("registry_monitor"), Tally()
    stripped = [line.rstrip("\n") for line in sample]
    began = time.process_time()
    for line in stripped:
        request = parser.parse(line)
        if request is None:
            tally.skip()
        else:
            tally.add(request)
    spent = time.process_time() - began
    assert tally.lines_parsed == len(sample), tally.lines_skipped
    return len(sample) / spent


def follow_rate(sample: list[str], workdir: Path) -> float:
    log = workdir / "parse.log"
    log.write_text("")
    follower = Follower(log, workdir / "parse-state.json")
    follower.read()
    log.write_text("".join(sample))
    parser, tally = Parser("registry_monitor"), Tally()
    began = time.process_time()
    seen = 0
    while seen < len(sample):
        batch = follower.read()
        seen += len(batch.lines)
        for line in batch.lines:
            request = parser.parse(line)
            if request is not None:
                tally.add(request)
    return len(sample) / (time.process_time() - began)


def start_exporter(workdir: Path, log: Path) -> tuple[Exporter, psutil.Process]:
    slow = {"disk": 3600, "services": 3600, "api": 3600, "cert": 3600, "storage": 3600}
    config = {
        "node": "bench-traffic",
        "role": "active",
        "data_dir": str(workdir / "data"),
        "backend_url": "http://127.0.0.1:9",
        "public_url": "http://127.0.0.1:9",
        "cert_file": None,
        "write_probe": False,
        "registry_user": None,
        "state_dir": str(workdir / "state"),
        "access_log": {"path": str(log), "format": "registry_monitor"},
        "intervals": {**slow, "traffic": 5},
    }
    (workdir / "data").mkdir(exist_ok=True)
    exporter = Exporter(workdir / "exporter", config).start(wait_for=("traffic",))
    assert exporter.daemon.proc is not None
    return exporter, psutil.Process(exporter.daemon.proc.pid)


def cpu_percent(proc: psutil.Process, seconds: float, during: threading.Thread | None) -> float:
    before = proc.cpu_times()
    began = time.monotonic()
    if during is not None:
        during.start()
        during.join()
    else:
        time.sleep(seconds)  # the measurement window itself
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / (time.monotonic() - began)


def writer(log: Path, pool: list[str], rate: float, seconds: float) -> threading.Thread:
    def write() -> None:
        per_tick, tick = int(rate / 10), 0.1
        began = time.monotonic()
        with log.open("a") as f:
            i = 0
            while time.monotonic() - began < seconds:
                chunk = [pool[(i + k) % len(pool)] for k in range(per_tick)]
                f.write("".join(chunk))
                f.flush()
                i += per_tick
                next_at = began + (i / per_tick) * tick
                time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the writer

    return threading.Thread(target=write, daemon=True)


def counted(exporter: Exporter) -> float:
    got = value(exporter.metrics_text(), "registry_monitor_access_log_lines_total", result="parsed")
    return got or 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--million", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    sample = lines(args.lines)
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        work = Path(tmp)
        rate = parse_rate(sample)
        print(f"parse: {rate:,.0f} lines/s on one core (parser + counters, {args.lines:,} lines)")
        end_to_end = follow_rate(sample, work)
        print(f"parse: {end_to_end:,.0f} lines/s end to end (file, follower, parser, counters)")
        print(f"  goal >= 50,000 lines/s: {'met' if min(rate, end_to_end) >= 50_000 else 'MISSED'}")

        log = work / "access.log"
        log.write_text("")
        exporter, proc = start_exporter(work, log)
        try:
            idle = cpu_percent(proc, args.seconds, None)
            busy = cpu_percent(proc, args.seconds, writer(log, sample, args.rate, args.seconds))
            print(
                f"follow: exporter CPU {busy:.2f} % of a core at {args.rate:,.0f} lines/s "
                f"over {args.seconds:.0f} s (idle baseline {idle:.2f} %)"
            )
            print(f"  goal < 5 %: {'met' if busy < 5 else 'MISSED'}")

            base = counted(exporter)
            rss = [proc.memory_info().rss / 2**20]
            quarter = args.million // 4
            with log.open("a") as f:
                for q in range(4):
                    for start in range(0, quarter, len(sample)):
                        f.write("".join(sample[: min(len(sample), quarter - start)]))
                    f.flush()
                    target = base + (q + 1) * quarter
                    while counted(exporter) < target:
                        time.sleep(0.5)  # waiting for the exporter to catch up
                    rss.append(proc.memory_info().rss / 2**20)
            shown = "  ".join(f"{r:.1f}" for r in rss)
            print(f"memory: RSS MiB at 0, 1/4 .. 4/4 of {args.million:,} lines: {shown}")
            growth = max(rss[1:]) - rss[1]
            print(
                f"  goal flat (growth after the first quarter < 5 MiB, {growth:.1f}): "
                f"{'met' if growth < 5 else 'MISSED'}"
            )
        finally:
            exporter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
