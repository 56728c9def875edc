"""The traffic probe's reading as Prometheus sees it: exact samples, the histogram's shape."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from prometheus_client import generate_latest

from exporter.metrics import ReadingsCollector, build_registry
from registry_monitor.base import Deadline
from registry_monitor.config import AccessLog, Config
from registry_monitor.judging.state import State
from registry_monitor.judging.verdicts.traffic import judge
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.traffic import TrafficProbe
from tests.support.metrics import samples, value


def line(
    target: str, status: int, seconds: float, method: str = "GET", header: str = "0.001"
) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_800_000_000))
    return (
        f'10.0.0.1 - - [{stamp}] "{method} {target} HTTP/1.1" {status} 100 "-" "docker" '
        f'{seconds:.3f} "{header}" "{status}" "registry.test" "{header}"\n'
    )


def render(reading: Reading[object]) -> str:
    collector = ReadingsCollector(Config(node="n"), ("traffic",), lambda: {"traffic": reading})
    return generate_latest(build_registry(collector)).decode()


def probe(
    tmp_path: Path, fmt: str = "registry_monitor", durations: str = "auto"
) -> tuple[TrafficProbe, Path]:
    log = tmp_path / "access.log"
    log.write_text("")
    access = AccessLog(path=log, format=fmt, durations=durations)  # type: ignore[arg-type]
    config = Config(access_log=access, state_dir=tmp_path)
    traffic = TrafficProbe(config)
    assert run_probe(traffic, Deadline(5)).ok
    return traffic, log


def test_counts_histogram_and_upstream_errors_are_exported_exactly(tmp_path: Path) -> None:
    traffic, log = probe(tmp_path)
    with log.open("a") as f:
        f.write(line("/v2/a/manifests/latest", 200, 0.004, method="HEAD"))
        f.write(line("/v2/a/manifests/latest", 200, 1.5))
        f.write(line("/v2/a/manifests/latest", 200, 2.0))
        f.write(line("/v2/a/manifests/latest", 200, 75.0))
        f.write(line("/v2/a/blobs/sha256:" + "1" * 64, 502, 0.0, header="-"))
        f.write("not a log line\n")
    reading = run_probe(traffic, Deadline(5))
    assert reading.ok
    text = render(reading)
    found = samples(text)
    requests = {
        tuple(dict(labels)[k] for k in ("route", "method", "code")): v
        for (name, labels), v in found.items()
        if name == "registry_monitor_http_requests_total"
    }
    assert requests == {
        ("manifest", "HEAD", "200"): 1,
        ("manifest", "GET", "200"): 3,
        ("blob", "GET", "502"): 1,
    }
    get = {"route": "manifest", "method": "GET"}
    buckets = {
        dict(labels)["le"]: v
        for (name, labels), v in found.items()
        if name == "registry_monitor_http_request_duration_seconds_bucket"
        and dict(labels)["method"] == "GET"
        and dict(labels)["route"] == "manifest"
    }
    # cumulative, le inclusive: 1.5 and 2.0 are within 2 s, 75 s only in +Inf
    assert (buckets["1.0"], buckets["2.0"], buckets["60.0"], buckets["+Inf"]) == (0, 2, 2, 3)
    assert buckets["0.005"] == 0  # the HEAD's 4 ms is in its own (route, method) series
    assert value(text, "registry_monitor_http_request_duration_seconds_count", **get) == 3
    assert value(text, "registry_monitor_http_request_duration_seconds_sum", **get) == 78.5
    assert value(text, "registry_monitor_http_upstream_errors_total", route="blob") == 1
    assert value(text, "registry_monitor_http_upstream_errors_total", route="manifest") == 0
    assert value(text, "registry_monitor_http_response_bytes_total", route="manifest") == 400
    assert value(text, "registry_monitor_access_log_lines_total", result="parsed") == 5
    assert value(text, "registry_monitor_access_log_lines_total", result="skipped") == 1
    assert value(text, "registry_monitor_access_log_last_line_timestamp_seconds") == 1_800_000_000


def test_combined_without_durations_exports_no_durations_nor_upstream_errors(
    tmp_path: Path,
) -> None:
    traffic, log = probe(tmp_path, "combined", durations="none")
    with log.open("a") as f:
        f.write('10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /v2/ HTTP/1.1" 401 87 "-" "d"\n')
    text = render(run_probe(traffic, Deadline(5)))
    assert (
        value(text, "registry_monitor_http_requests_total", route="base", method="GET", code="401")
        == 1
    )
    assert "registry_monitor_http_request_duration_seconds" not in text
    assert "registry_monitor_http_upstream_errors_total" not in text


def test_before_the_first_line_the_last_line_time_is_the_files_mtime(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("old line\n")
    import os

    os.utime(log, (1_700_000_000, 1_700_000_000))
    config = Config(access_log=AccessLog(path=log), state_dir=tmp_path)
    text = render(run_probe(TrafficProbe(config), Deadline(5)))
    assert value(text, "registry_monitor_access_log_last_line_timestamp_seconds") == 1_700_000_000
    assert value(text, "registry_monitor_access_log_lines_total", result="parsed") == 0


def test_a_missing_log_is_a_failed_probe_that_keeps_its_counters(tmp_path: Path) -> None:
    traffic, log = probe(tmp_path)
    with log.open("a") as f:
        f.write(line("/v2/", 200, 0.001))
    run_probe(traffic, Deadline(5))
    log.unlink()
    reading = run_probe(traffic, Deadline(5))
    assert reading.ok  # the open file is still read: it may have more lines
    missing = Config(access_log=AccessLog(path=tmp_path / "nope.log"), state_dir=tmp_path / "s")
    failed = run_probe(TrafficProbe(missing), Deadline(5))
    assert failed.error == f"access log {tmp_path / 'nope.log'} does not exist (yet)"
    text = render(failed)
    assert value(text, "registry_monitor_probe_success", probe="traffic") == 0
    assert value(text, "registry_monitor_access_log_lines_total", result="parsed") == 0


def test_the_exporter_judges_the_followed_log_by_its_state_not_its_ratios(
    tmp_path: Path,
) -> None:
    """/api/status and the page judge the follower's reading: OK while it reads the log
    (the ratios are the burn-rate alerts'), WARNING with the note when it cannot."""
    traffic, log = probe(tmp_path)
    with log.open("a") as f:
        f.write(line("/v2/a/manifests/latest", 200, 0.004))
        f.write("not a log line\n")
    reading = run_probe(traffic, Deadline(5))
    verdict = judge(reading, {})
    assert (verdict.state, verdict.summary) == (
        State.OK,
        f"following {log} (registry_monitor): 1 lines parsed, 1 skipped, 0 rotations followed",
    )
    noted = reading._replace(value=replace(reading.value, note="cannot keep the position"))
    verdict = judge(noted, {})
    assert (verdict.state, verdict.summary) == (State.WARNING, f"{log}: cannot keep the position")
