"""Requests counted by route, method and code, bytes by route, durations by route and method.

The label sets are bounded by construction: seven routes, eight methods
(`other` for anything else), the status codes 100-599. A million lines take
no more memory than a hundred.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from registry_monitor.accesslog.formats import Request
from registry_monitor.accesslog.routes import route_of

# Registry traffic: manifest reads in milliseconds, large layers in tens of seconds.
# 2 s is the latency objective's threshold (alerts/traffic.yaml): it must stay a bound.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    counts: tuple[int, ...]  # per bucket of DURATION_BUCKETS, then +Inf; not cumulative
    total: float  # sum of the observed seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[int]:
        out, running = [], 0
        for n in self.counts:
            running += n
            out.append(running)
        return out


@dataclass(frozen=True, slots=True)
class TrafficCounts:
    """A snapshot of the counters since the exporter started (they reset with it)."""

    requests: dict[tuple[str, str, str], int]  # (route, method, code) -> requests
    response_bytes: dict[str, int]  # route -> bytes sent
    durations: dict[tuple[str, str], Histogram]  # (route, method) -> histogram
    upstream_errors: dict[str, int]  # route -> 5xx nginx made without a registry answer
    lines_parsed: int
    lines_skipped: int
    last_line_time: float | None  # the newest parsed line's own time stamp


class Tally:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.response_bytes: dict[str, int] = {}
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = {}
        self.upstream_errors: dict[str, int] = {}
        self.lines_parsed = 0
        self.lines_skipped = 0
        self.last_line_time: float | None = None

    def add(self, request: Request) -> None:
        route = route_of(request.target)
        key = (route, request.method, str(request.status))
        self.requests[key] = self.requests.get(key, 0) + 1
        self.response_bytes[route] = self.response_bytes.get(route, 0) + request.bytes_sent
        if request.duration is not None:
            self.observe(route, request.method, request.duration)
        if request.upstream_error is not None:
            errors = self.upstream_errors.get(route, 0)
            self.upstream_errors[route] = errors + 1 if request.upstream_error else errors
        self.lines_parsed += 1
        if self.last_line_time is None or request.time > self.last_line_time:
            self.last_line_time = request.time

    def observe(self, route: str, method: str, seconds: float) -> None:
        """One request's duration (from the access log, or the registry's journal)."""
        pair = (route, method)
        buckets = self._buckets.get(pair)
        if buckets is None:
            buckets = self._buckets[pair] = [0] * (len(DURATION_BUCKETS) + 1)
            self._sums[pair] = 0.0
        buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self._sums[pair] += seconds

    def skip(self, lines: int = 1) -> None:
        self.lines_skipped += lines

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one (a run's, once it may be counted)."""
        for key, n in other.requests.items():
            self.requests[key] = self.requests.get(key, 0) + n
        for route, n in other.response_bytes.items():
            self.response_bytes[route] = self.response_bytes.get(route, 0) + n
        for pair, buckets in other._buckets.items():
            mine = self._buckets.setdefault(pair, [0] * len(buckets))
            for i, n in enumerate(buckets):
                mine[i] += n
            self._sums[pair] = self._sums.get(pair, 0.0) + other._sums[pair]
        for route, n in other.upstream_errors.items():
            self.upstream_errors[route] = self.upstream_errors.get(route, 0) + n
        self.lines_parsed += other.lines_parsed
        self.lines_skipped += other.lines_skipped
        if other.last_line_time is not None and (
            self.last_line_time is None or other.last_line_time > self.last_line_time
        ):
            self.last_line_time = other.last_line_time

    def snapshot(self) -> TrafficCounts:
        return TrafficCounts(
            requests=dict(self.requests),
            response_bytes=dict(self.response_bytes),
            durations={k: Histogram(tuple(v), self._sums[k]) for k, v in self._buckets.items()},
            upstream_errors=dict(self.upstream_errors),
            lines_parsed=self.lines_parsed,
            lines_skipped=self.lines_skipped,
            last_line_time=self.last_line_time,
        )
