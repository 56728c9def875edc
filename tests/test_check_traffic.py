"""check_registry traffic: the last N minutes of an access log, judged like the objectives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.check import run_check, write_config


def stamp(unix: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(unix))


def line(
    ago: float,
    status: int = 200,
    target: str = "/v2/tools/python/manifests/latest",
    method: str = "GET",
    seconds: float = 0.01,
    header: str = "0.009",
) -> str:
    """One line of the registry_monitor format, `ago` seconds before now."""
    return (
        f'10.0.0.7 - - [{stamp(time.time() - ago)}] "{method} {target} HTTP/1.1" {status} 512 '
        f'"-" "containerd/1.7" {seconds:.3f} "{header}" "{status}" "registry.test" "{header}"\n'
    )


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


def config(tmp_path: Path, log: Path, fmt: str = "registry_monitor", **extra: object) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {"access_log": {"path": str(log), "format": fmt, **extra}, "state_dir": str(tmp_path)},
    )


def test_clean_traffic_is_ok_with_its_figures(tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", [line(30)] * 50)
    run = run_check(config(tmp_path, log), "traffic")
    assert (run.exit_code, run.state) == (0, "OK")
    assert run.text == "0% 5xx of 50 requests in the last 5 minutes, manifest p95 0.01s"
    assert run.perf("requests").value == 50
    assert (run.perf("error_percent").value, run.perf("error_percent").warn) == (0, "1")
    assert (run.perf("manifest_p95").warn, run.perf("manifest_p95").crit) == ("2", "5")


def test_5xx_share_past_the_warning_level_warns(tmp_path: Path) -> None:
    lines = [line(60)] * 97 + [line(60, status=500)] * 3
    run = run_check(config(tmp_path, write_log(tmp_path / "access.log", lines)), "traffic")
    assert (run.exit_code, run.state) == (1, "WARNING")
    assert run.text == "3% of 100 requests in the last 5 minutes answered 5xx (3) (warning > 1)"


def test_nginx_made_502s_are_named_and_critical_past_the_level(tmp_path: Path) -> None:
    lines = [line(60)] * 90 + [line(60, status=502, header="-")] * 10
    run = run_check(config(tmp_path, write_log(tmp_path / "access.log", lines)), "traffic")
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text == (
        "10% of 100 requests in the last 5 minutes answered 5xx "
        "(10, 10 made by nginx without a registry answer) (critical > 5)"
    )


def test_challenges_and_blob_head_404s_are_protocol_flow_not_requests(tmp_path: Path) -> None:
    lines = (
        [line(10, status=401, target="/v2/")] * 50
        + [line(10, status=404, method="HEAD", target="/v2/a/blobs/sha256:" + "0" * 64)] * 50
        + [line(10)] * 99
        + [line(10, status=503)]
    )
    run = run_check(config(tmp_path, write_log(tmp_path / "access.log", lines)), "traffic")
    assert run.text == "1% 5xx of 100 requests in the last 5 minutes, manifest p95 0.01s"
    assert run.perf("requests").value == 200


def test_only_the_window_counts(tmp_path: Path) -> None:
    lines = [line(900, status=500)] * 100 + [line(30)] * 10
    log = write_log(tmp_path / "access.log", lines)
    assert run_check(config(tmp_path, log), "traffic").state == "OK"
    run = run_check(config(tmp_path, log), "traffic", "--minutes", "20")
    assert (run.state, run.perf("requests").value) == ("CRITICAL", 110)


def test_slow_manifest_reads_judged_by_their_p95(tmp_path: Path) -> None:
    lines = [line(20, seconds=0.05)] * 94 + [line(20, seconds=3.5)] * 6
    log = write_log(tmp_path / "access.log", lines)
    run = run_check(config(tmp_path, log), "traffic")
    assert (run.state, run.text) == ("WARNING", "p95 of 100 manifest reads 3.5s (warning > 2)")
    run = run_check(config(tmp_path, log), "traffic", "-w", ",4", "-c", "50,")
    assert run.state == "OK"
    assert (run.perf("manifest_p95").warn, run.perf("error_percent").crit) == ("4", "50")


def test_combined_without_durations_judges_errors_only(tmp_path: Path) -> None:
    combined = [
        f'10.0.0.7 - - [{stamp(time.time() - 5)}] "GET /v2/ HTTP/1.1" 200 2 "-" "docker"\n'
    ] * 5
    log = write_log(tmp_path / "access.log", combined)
    run = run_check(config(tmp_path, log, fmt="combined", durations="none"), "traffic", "-v")
    assert (run.state, run.text) == ("OK", "0% 5xx of 5 requests in the last 5 minutes")
    assert "[OK] manifest latency not judged: no durations (access_log.durations)" in run.long


def test_an_empty_window_is_ok_with_nothing_to_judge(tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", [line(3600)])
    run = run_check(config(tmp_path, log), "traffic")
    assert (run.state, run.text) == ("OK", "no requests in the last 5 minutes")


def test_garbage_and_a_partial_last_line_are_skipped(tmp_path: Path) -> None:
    lines = [line(5)] * 3 + ["garbage\n", "x" * 20_000 + "\n", line(5).rstrip("\n")[:40]]
    run = run_check(config(tmp_path, write_log(tmp_path / "access.log", lines)), "traffic", "-v")
    assert run.perf("requests").value == 3
    assert "[OK] 2 lines skipped (not registry_monitor format, or over-long)" in run.long


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("-w", "1,2,3"), "-w: -w/-c are ERROR_PERCENT,P95_SECONDS"),
        (("--minutes", "0"), "argument --minutes: expected minutes above 0"),
        (("-W", "3"), "traffic does not take -W"),
    ],
)
def test_bad_arguments_are_unknown(tmp_path: Path, args: tuple[str, ...], reason: str) -> None:
    log = write_log(tmp_path / "access.log", [])
    run = run_check(config(tmp_path, log), "traffic", *args)
    assert (run.exit_code, run.state) == (3, "UNKNOWN")
    assert reason in run.text


def test_no_access_log_configured_is_unknown(tmp_path: Path) -> None:
    run = run_check(write_config(tmp_path / "c.yaml", {}), "traffic")
    assert (run.exit_code, run.text) == (
        3,
        "the traffic probe is off: set access_log (path, format) in the config",
    )


def test_a_missing_log_is_unknown(tmp_path: Path) -> None:
    run = run_check(config(tmp_path, tmp_path / "nope.log"), "traffic")
    assert (run.exit_code, run.text) == (
        3,
        f"cannot read access log {tmp_path / 'nope.log'}: No such file or directory",
    )
