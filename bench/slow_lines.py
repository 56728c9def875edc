"""A backlog of lines slow to parse: every traffic run ends within its time-out.

    python -m bench.slow_lines [--lines 32486]

Writes --lines access-log lines of `GET /v2/blobs/blobs/...` (8 KB targets, about 1.7 ms
each to classify by route), then runs the traffic probe as the exporter does (its
5 s time-out, ProbeRunner) until the backlog is counted. Printed: runs, each run's
duration and lines, and whether any run timed out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from registry_monitor.config import AccessLog, Config
from registry_monitor.probes.reading import ProbeRunner
from registry_monitor.probes.traffic import TrafficProbe

STAMP = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())


def slow_line() -> str:
    target = "/v2/" + "blobs/" * 1360 + "x"
    return (
        f'10.0.0.1 - - [{STAMP}] "GET {target} HTTP/1.1" 404 19 "-" "curl" '
        f'0.001 "0.001" "404" "registry.test" "0.001"\n'
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=32_486)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-slow-lines-") as tmp:
        log = Path(tmp) / "access.log"
        log.write_text("")
        config = Config(
            access_log=AccessLog(path=log, format="registry_monitor"), state_dir=Path(tmp)
        )
        runner = ProbeRunner(TrafficProbe(config), timeout=5.0)
        assert runner.run().ok
        with log.open("a") as f:
            f.writelines(slow_line() for _ in range(args.lines))
        counted, runs, longest, timed_out, refused = 0, 0, 0.0, 0, 0
        began = time.monotonic()
        while counted < args.lines and time.monotonic() - began < 300:
            reading = runner.run()
            if reading.value is None and "not started again" in str(reading.error):
                refused += 1  # the timed-out run still parses: as the scheduler would, wait
                time.sleep(1)
                continue
            runs += 1
            longest = max(longest, reading.duration_seconds)
            if reading.value is None:
                timed_out += 1
                print(f"run {runs}: {reading.error}")
                continue
            print(f"run {runs}: {reading.duration_seconds:.2f} s, {reading.value.lines_read} lines")
            counted = reading.value.counts.lines_parsed
        print(
            f"{args.lines:,} lines of {len(slow_line()):,} bytes: {counted:,} counted in "
            f"{time.monotonic() - began:.0f} s, {runs} runs, longest {longest:.2f} s, "
            f"{timed_out} timed out (time-out 5 s), {refused} refused while one was stuck"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
