"""traffic reading -> http_*, access_log_* and registry_log_* families (nginx's access
log; durations from it or from the registry's journal).

Counters count since the exporter started (they reset with it, which rate()
handles); the file offset in state_dir keeps a line from being counted twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from exporter.metrics.families import NAMESPACE, single_gauge
from registry_monitor.accesslog.tally import DURATION_BUCKETS
from registry_monitor.accesslog.window import TrafficWindow
from registry_monitor.journal.durations import JournalCounts
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.traffic import TrafficStatus

READ = " (read from nginx's access log in the background; reset when the exporter restarts)"
JOURNAL_READ = (
    " (read from the registry's journal in the background; reset when the exporter restarts)"
)


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(NAMESPACE + name, doc + READ, labels=labels)


def render(reading: Measured[TrafficStatus | TrafficWindow]) -> Iterator[Metric]:
    s = reading.value
    if not isinstance(s, TrafficStatus):  # a window is check_registry's, never the exporter's
        return
    c = s.counts
    requests = _counter(
        "http_requests",
        "Requests nginx logged, by registry API route (base, catalog, tags, manifest, blob, "
        "blob_upload, other), method and status code",
        ["route", "method", "code"],
    )
    for (route, method, code), n in sorted(c.requests.items()):
        requests.add_metric([route, method, code], float(n))
    yield requests
    sent = _counter("http_response_bytes", "Response body bytes nginx sent, by route", ["route"])
    for route, n in sorted(c.response_bytes.items()):
        sent.add_metric([route], float(n))
    yield sent
    if s.durations != "none":
        durations = HistogramMetricFamily(
            NAMESPACE + "http_request_duration_seconds",
            (
                "Seconds the registry took per request it answered through nginx "
                "(http.response.duration of its `response completed` journal entries), "
                "by route and method" + JOURNAL_READ
                if s.durations == "journal"
                else "Seconds nginx took per request ($request_time: first byte read to "
                "last byte sent), by route and method" + READ
            ),
            labels=["route", "method"],
        )
        for (route, method), h in sorted(c.durations.items()):
            # client_python's (and Prometheus 3's normalised) form: "2.0", not "2"
            bounds = [str(float(b)) for b in DURATION_BUCKETS] + ["+Inf"]
            buckets = list(zip(bounds, map(float, h.cumulative()), strict=True))
            durations.add_metric([route, method], buckets, h.total)
        yield durations
    if s.format == "registry_monitor":
        upstream = _counter(
            "http_upstream_errors",
            "5xx answers nginx made itself because the registry gave no response header "
            "(refused, reset or timed out: 502/504), by route",
            ["route"],
        )
        for route, n in sorted(c.upstream_errors.items()):
            upstream.add_metric([route], float(n))
        yield upstream
    lines = _counter(
        "access_log_lines",
        "Access log lines read: parsed, or skipped (garbage, another format, over-long)",
        ["result"],
    )
    lines.add_metric(["parsed"], float(c.lines_parsed))
    lines.add_metric(["skipped"], float(c.lines_skipped))
    yield lines
    if s.last_line_time is not None:
        yield single_gauge(
            "access_log_last_line_timestamp_seconds",
            "Time stamp of the newest access log line read (before the first one: the "
            "file's modification time)",
            s.last_line_time,
        )
    if s.journal is not None:
        yield from _journal(s.journal)


def _journal(j: JournalCounts) -> Iterator[Metric]:
    entries = CounterMetricFamily(
        NAMESPACE + "registry_log_entries",
        f"Entries of {j.unit} read from the journal: request (a duration counted), "
        "direct (a request that did not come through nginx, left out), other (no "
        "request, or not an entry); reset when the exporter restarts",
        labels=["result"],
    )
    entries.add_metric(["request"], float(j.requests))
    entries.add_metric(["direct"], float(j.direct))
    entries.add_metric(["other"], float(j.other))
    yield entries
    if j.last_entry_time is not None:
        yield single_gauge(
            "registry_log_last_request_timestamp_seconds",
            f"Time journald received the newest request entry of {j.unit} read",
            j.last_entry_time,
        )
