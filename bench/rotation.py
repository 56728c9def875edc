"""Lines counted against lines written while the access log rotates under a real exporter.

    python -m bench.rotation [--rate 200] [--seconds 30]

A writer appends --rate lines/s to the log, as nginx does (to the file it has open),
for --seconds, while it is rotated: by rename (logrotate's numbered shift, then the
writer reopens 50 ms later, as nginx on USR1) every 1 s and every 0.2 s; by delete and
recreate every 1 s (reopened 50 ms later); by copytruncate every 10 s (copy, then
truncate, the writer never reopening). Rotations start half a probe interval after
the exporter's runs. A real registry-exporter follows it with the
default traffic interval (5 s). Printed: lines counted
(`access_log_lines_total{result="parsed"}` once it stops growing) / lines written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.traffic import counted, lines, start_exporter

REOPEN_DELAY = 0.05
PHASE = 2.5  # seconds: half the traffic probe's interval


def rotate(log: Path, how: str) -> None:
    if how == "rename":
        rotated = sorted(
            (int(p.name.rsplit(".", 1)[1]), p) for p in log.parent.glob(log.name + ".*")
        )
        for number, path in reversed(rotated):
            path.rename(log.with_name(f"{log.name}.{number + 1}"))
        log.rename(log.with_name(f"{log.name}.1"))
    elif how == "delete":
        log.unlink()
    else:  # copytruncate
        shutil.copyfile(log, log.with_name(log.name + ".1"))
        with log.open("r+") as f:
            f.truncate(0)


def run(workdir: Path, how: str, every: float, rate: float, seconds: float) -> tuple[int, int]:
    logs = workdir / f"{how}-{every}"
    logs.mkdir()
    log = logs / "access.log"
    log.write_text("")
    exporter, _ = start_exporter(logs, log)
    pool = lines(1000)
    written = 0
    try:
        out = log.open("a")
        began = time.monotonic()
        # half a probe interval out of step with the exporter's runs (which began with
        # the writer): in step, a copytruncate would come right after a run and lose
        # nearly nothing, an unfair best case
        next_rotation = began + every + PHASE
        reopen_at: float | None = None
        while (now := time.monotonic()) < began + seconds:
            due = int((now - began) * rate)
            while written < due:
                out.write(pool[written % len(pool)])
                written += 1
            out.flush()
            if reopen_at is not None and now >= reopen_at:
                out.close()
                out = log.open("a")
                reopen_at = None
            if now >= next_rotation:
                rotate(log, how)
                next_rotation += every
                if how != "copytruncate":
                    reopen_at = now + REOPEN_DELAY
            time.sleep(0.005)
        out.close()
        seen, settled = -1.0, 0
        while settled < 3:  # three scrapes 5 s apart with no change: it has caught up
            time.sleep(5)
            now_seen = counted(exporter)
            settled = settled + 1 if now_seen == seen else 0
            seen = now_seen
    finally:
        exporter.stop()
    return int(seen), written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--only", choices=("rename", "delete", "copytruncate"))
    args = parser.parse_args(argv)
    cases = [("rename", 1.0), ("rename", 0.2), ("delete", 1.0), ("copytruncate", 10.0)]
    cases = [c for c in cases if args.only in (None, c[0])]
    with tempfile.TemporaryDirectory(prefix="bench-rotation-") as tmp:
        for how, every in cases:
            got, written = run(Path(tmp), how, every, args.rate, args.seconds)
            print(
                f"{how} every {every:g} s: counted {got:,} / written {written:,} "
                f"({100 * got / written:.1f} %)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
