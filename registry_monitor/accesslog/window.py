"""The last N minutes of an access log, read from its end backwards (check_registry).

nginx writes a line when a request ends, so time stamps grow along the file
(to the second, give or take a worker): reading stops at the first line
older than the window. Only the current file is read: right after a
rotation the window holds what the new file has.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from registry_monitor.accesslog.follow import MAX_LINE
from registry_monitor.accesslog.formats import Format, Parser, Request
from registry_monitor.accesslog.routes import route_of
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.files import regular_file

BLOCK = 256 * 1024
MAX_WINDOW_BYTES = 512 * 1024 * 1024  # at 200 bytes a line: 2.5 million lines


@dataclass(frozen=True, slots=True)
class TrafficWindow:
    path: str
    format: str
    minutes: float
    since: float  # unix time the window starts
    requests: int  # all requests in the window
    counted: int  # the availability SLI's requests: not 401 challenges, not blob HEAD 404s
    errors: int  # of those, answered 5xx
    upstream_errors: int | None  # 5xx nginx made without a registry answer (extended format)
    manifest_reads: int  # GET/HEAD of manifests
    manifest_p95_seconds: float | None  # None without durations (combined) or manifest reads
    skipped: int  # garbage or over-long lines in the window's part of the file
    newest: float | None  # time of the newest line
    truncated: bool  # stopped at MAX_WINDOW_BYTES or the deadline before the window's start
    durations: str = "access_log"  # where manifest_p95_seconds comes from (or none)
    timed_reads: int | None = None  # manifest reads with a duration, when from the journal

    @property
    def error_percent(self) -> float | None:
        return 100.0 * self.errors / self.counted if self.counted else None


def counts_for_availability(request: Request, route: str) -> bool:
    """The availability SLI leaves out normal protocol flow: 401 challenges, blob HEAD 404s."""
    if request.status == 401:
        return False
    return not (request.status == 404 and request.method == "HEAD" and route == "blob")


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1): the value `share` of them are at or under."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def read_window(
    path: Path, fmt: Format, minutes: float, now: float, deadline: Deadline
) -> TrafficWindow:
    parser = Parser(fmt)
    since = now - minutes * 60
    requests = counted = errors = upstream = manifest_reads = skipped = 0
    durations: list[float] = []
    newest: float | None = None
    truncated = False
    try:
        file = regular_file.open_binary(path)  # a FIFO or directory: refused at once
    except OSError as exc:
        raise ProbeFailed(f"cannot read access log {path}: {exc.strerror or exc}") from None
    with file:
        end = os.fstat(file.fileno()).st_size
        position, carry, done, first = end, b"", False, True
        while position > 0 and not done:
            if end - position >= MAX_WINDOW_BYTES or deadline.remaining() < 0.2:
                truncated = True
                break
            start = max(0, position - BLOCK)
            file.seek(start)
            block = file.read(position - start) + carry
            position = start
            lines = block.split(b"\n")
            carry = lines.pop(0) if position > 0 else b""
            if first:
                lines.pop() if lines else None  # after the last newline: "" or a partial line
                first = False
            for raw in reversed(lines):
                if not raw:
                    continue
                if len(raw) > MAX_LINE:
                    skipped += 1
                    continue
                request = parser.parse(raw.decode("latin-1"))
                if request is None:
                    skipped += 1
                    continue
                if request.time < since:
                    done = True
                    break
                newest = request.time if newest is None else max(newest, request.time)
                requests += 1
                route = route_of(request.target)
                if counts_for_availability(request, route):
                    counted += 1
                    errors += request.status >= 500
                upstream += bool(request.upstream_error)
                if route == "manifest" and request.method in ("GET", "HEAD"):
                    manifest_reads += 1
                    if request.duration is not None:
                        durations.append(request.duration)
            if len(carry) > MAX_LINE:
                skipped, carry = skipped + 1, b""
    return TrafficWindow(
        path=str(path),
        format=fmt,
        minutes=minutes,
        since=since,
        requests=requests,
        counted=counted,
        errors=errors,
        upstream_errors=upstream if parser.extended else None,
        manifest_reads=manifest_reads,
        manifest_p95_seconds=percentile(durations, 0.95),
        skipped=skipped,
        newest=newest,
        truncated=truncated,
    )
