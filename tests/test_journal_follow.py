"""The journal follower and the traffic probe's durations from it, over the recorded
entries (tests/data/docker-registry-journal.json) replayed as journalctl prints them
(tests/support/journal_replay.py). journalctl and journald themselves: the real host."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from exporter.metrics import ReadingsCollector, build_registry
from registry_monitor.accesslog.window import TrafficWindow
from registry_monitor.base import Deadline
from registry_monitor.config import AccessLog, Config
from registry_monitor.journal.durations import JournalDurations
from registry_monitor.journal.entries import Completed, parse
from registry_monitor.journal.follow import MAX_LINE, JournalFollower
from registry_monitor.judging.state import State
from registry_monitor.judging.verdicts.traffic import judge
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.traffic import TrafficProbe
from tests.support import journal_replay
from tests.support.metrics import value
from tests.test_accesslog_rotation import read_only

LINES = (Path(__file__).parent / "data" / "docker-registry-journal.json").read_text().splitlines()
UNIT = "docker-registry.service"


def follower(tmp_path: Path, entries: list[str]) -> tuple[JournalFollower, Path]:
    script, store = journal_replay.write(tmp_path, entries)
    return JournalFollower(UNIT, tmp_path / "state" / "cursor.json", str(script)), store


def read(f: JournalFollower) -> tuple[list[Completed], int, int, str | None]:
    got: list[Completed] = []
    batch = f.read(Deadline(10), got.append)
    assert batch.countable
    return got, batch.entries, batch.skipped, batch.note


def cursor(line: str) -> str:
    return str(json.loads(line)["__CURSOR"])


def test_the_first_start_begins_at_the_journals_end(tmp_path: Path) -> None:
    f, store = follower(tmp_path, LINES[:6])
    assert read(f) == ([], 0, 0, None)
    assert json.loads((tmp_path / "state" / "cursor.json").read_text()) == {
        "unit": UNIT,
        "cursor": cursor(LINES[5]),
    }
    journal_replay.append(store, LINES[6:9])
    got, entries, skipped, note = read(f)
    assert ([r.target for r in got], entries, skipped, note) == (
        [
            "/v2/toolforge-python311-sssd-base/manifests/latest",
            "/v2/_catalog?n=1000",
            "/v2/toolforge-python311-sssd-base/blobs/sha256:"
            "fdb32f2bf27afb08077b2aac7152d2fa2362fb7fa27150f44f73dd6477e3aba2",
        ],
        3,
        0,
        None,
    )
    assert read(f) == ([], 0, 0, None)
    assert journal_replay.calls(tmp_path)[-1][-2:] == ["--after-cursor", cursor(LINES[8])]


def test_a_restart_goes_on_from_the_saved_cursor(tmp_path: Path) -> None:
    f, store = follower(tmp_path, LINES[:4])
    read(f)
    journal_replay.append(store, LINES[4:6])  # logged while the exporter was stopped
    again = JournalFollower(UNIT, f.state_path, f.journalctl)
    got, entries, _, _ = read(again)
    assert ([r.status for r in got], entries) == ([201, 200], 2)


def test_a_unit_without_entries_yet_has_all_its_entries_read(tmp_path: Path) -> None:
    f, store = follower(tmp_path, [])
    assert read(f) == ([], 0, 0, None)
    journal_replay.append(store, LINES[:4])
    got, entries, _, _ = read(f)
    assert ([r.method for r in got], entries) == (["HEAD"], 4)


def test_garbage_and_overlong_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    f, store = follower(tmp_path, LINES[:1])
    read(f)
    journal_replay.append(store, ["not json", LINES[5], "x" * (MAX_LINE + 10), LINES[6]])
    got, entries, skipped, _ = read(f)
    assert ([r.target for r in got], entries, skipped) == (
        ["/v2/", "/v2/toolforge-python311-sssd-base/manifests/latest"],
        2,
        2,
    )


def test_the_byte_budget_stops_a_read_and_the_next_goes_on(tmp_path: Path) -> None:
    script, store = journal_replay.write(tmp_path, LINES[:1])
    f = JournalFollower(UNIT, tmp_path / "cursor.json", str(script), max_bytes_per_read=1)
    read(f)
    journal_replay.append(store, LINES[5:15])
    seen: list[str] = []
    for _ in range(20):  # one entry a read: the budget is spent by the first chunk
        got, _, _, _ = read(f)
        seen += [r.target for r in got]
    expected = [r.target for _, r in map(parse, LINES[5:15]) if r is not None]
    assert (seen, len(expected)) == (expected, 10)


def test_a_cursor_journalctl_cannot_seek_to_is_dropped(tmp_path: Path) -> None:
    f, store = follower(tmp_path, LINES[:3])
    f.state_path.parent.mkdir()
    f.state_path.write_text(json.dumps({"unit": UNIT, "cursor": "s=gone"}))
    batch = f.read(Deadline(10), lambda r: None)
    assert (batch.failed, batch.note) == (
        True,
        f"{f.journalctl} --unit {UNIT} failed (exit status 1): Failed to seek to cursor: "
        "Invalid argument; dropped the saved cursor: reading on from the journal's end",
    )
    assert read(f) == ([], 0, 0, None)  # the end again
    journal_replay.append(store, LINES[3:4])
    assert [r.method for r in read(f)[0]] == ["HEAD"]


def test_another_units_cursor_is_not_used(tmp_path: Path) -> None:
    f, _ = follower(tmp_path, LINES[:3])
    f.state_path.parent.mkdir()
    f.state_path.write_text(json.dumps({"unit": "nginx.service", "cursor": cursor(LINES[0])}))
    assert read(f) == ([], 0, 0, None)
    assert journal_replay.calls(tmp_path) == [
        [
            "--unit",
            UNIT,
            "--output=json",
            "--output-fields=MESSAGE",
            "--no-pager",
            "--lines=1",
        ]
    ]


def test_journalctl_missing_is_a_failed_read_and_history_stays_unread(tmp_path: Path) -> None:
    f = JournalFollower(UNIT, tmp_path / "c.json", str(tmp_path / "journalctl"))
    batch = f.read(Deadline(5), lambda r: None)
    assert batch.failed and (batch.note or "").startswith(f"cannot run {tmp_path / 'journalctl'}: ")
    journal_replay.write(tmp_path, LINES)  # installed now, with a history
    assert read(f) == ([], 0, 0, None)  # the end taken, not the history counted
    assert read(f) == ([], 0, 0, None)


def test_a_cursor_neither_saved_nor_removed_reads_the_entries_again(tmp_path: Path) -> None:
    f, store = follower(tmp_path, LINES[:1])
    read(f)
    journal_replay.append(store, LINES[5:7])
    got: list[Completed] = []
    with read_only(f.state_path.parent):
        batch = f.read(Deadline(5), got.append)
    assert (batch.countable, len(got)) == (False, 2)
    assert (batch.note or "").endswith(": entries not counted until the cursor can be saved")
    again, entries, _, note = read(f)  # writable again: from the saved cursor
    assert ([r.target for r in again], entries, note) == ([r.target for r in got], 2, None)


def probe_with_journal(tmp_path: Path, script: Path) -> TrafficProbe:
    log = tmp_path / "access.log"
    log.write_text("")
    config = Config(access_log=AccessLog(path=log), state_dir=tmp_path / "state")
    traffic = TrafficProbe(config)
    assert traffic.journal is not None  # combined: durations from the journal by default
    traffic.journal = JournalDurations(UNIT, config.state_dir, config.backend_url, str(script))
    return traffic


def render_reading(reading: Reading[object]) -> str:
    collector = ReadingsCollector(Config(node="n"), ("traffic",), lambda: {"traffic": reading})
    return generate_latest(build_registry(collector)).decode()


def render(traffic: TrafficProbe) -> tuple[str, object]:
    reading = run_probe(traffic, Deadline(5))
    return render_reading(reading), reading.error


def test_the_probe_times_requests_through_nginx_and_leaves_out_direct_ones(
    tmp_path: Path,
) -> None:
    script, store = journal_replay.write(tmp_path, LINES[:1])
    traffic = probe_with_journal(tmp_path, script)
    assert render(traffic)[1] is None
    journal_replay.append(store, LINES[1:15])
    text, error = render(traffic)
    assert error is None

    def histogram(route: str, method: str, suffix: str, **le: str) -> float | None:
        name = f"registry_monitor_http_request_duration_seconds_{suffix}"
        return value(text, name, route=route, method=method, **le)

    # through nginx: 1.922087ms, 1.243929ms, 992.2µs (the 404)
    assert histogram("manifest", "GET", "count") == 3
    assert histogram("manifest", "GET", "bucket", le="0.005") == 3
    # the HEAD straight to 127.0.0.1:5000 left out, the one through nginx counted
    assert histogram("manifest", "HEAD", "count") == 1
    assert histogram("base", "GET", "bucket", le="0.005") == 2  # 807.934µs, 751.683µs
    assert histogram("blob", "GET", "count") == 2
    assert histogram("blob_upload", "PUT", "count") is None  # only the direct push
    assert {
        r: value(text, "registry_monitor_registry_log_entries_total", result=r)
        for r in ("request", "direct", "other")
    } == {"request": 10, "direct": 2, "other": 2}
    assert value(text, "registry_monitor_registry_log_last_request_timestamp_seconds") == (
        int(json.loads(LINES[14])["__REALTIME_TIMESTAMP"]) / 1e6
    )


def test_the_journal_failing_is_a_reading_with_its_error_and_the_counts_kept(
    tmp_path: Path,
) -> None:
    traffic = probe_with_journal(tmp_path, tmp_path / "no-journalctl")
    reading = run_probe(traffic, Deadline(5))
    cannot = f"durations: cannot run {tmp_path / 'no-journalctl'}: "
    assert str(reading.error).startswith(cannot)
    text = render_reading(reading)
    assert value(text, "registry_monitor_access_log_lines_total", result="parsed") == 0
    verdict = judge(reading, {})
    assert verdict.state == State.WARNING
    assert [(i.state, i.text.startswith(cannot)) for i in verdict.items] == [
        (State.OK, False),
        (State.WARNING, True),
    ]


def test_the_registry_monitor_format_with_durations_from_the_journal_drops_its_own(
    tmp_path: Path,
) -> None:
    script, store = journal_replay.write(tmp_path, LINES[:1])
    log = tmp_path / "access.log"
    log.write_text("")
    access = AccessLog(path=log, format="registry_monitor", durations="journal")
    config = Config(access_log=access, state_dir=tmp_path / "state")
    traffic = TrafficProbe(config)
    assert traffic.journal is not None
    traffic.journal = JournalDurations(UNIT, config.state_dir, config.backend_url, str(script))
    run_probe(traffic, Deadline(5))
    with log.open("a") as f:  # 9.5 s in nginx's log, 992.2µs in the registry's journal
        f.write(
            '10.0.0.1 - - [06/Dec/2026:09:44:40 +0000] "GET /v2/a/manifests/nope HTTP/1.1" '
            '404 94 "-" "d" 9.500 "9.500" "404" "registry.test" "9.500"\n'
        )
    journal_replay.append(store, LINES[13:14])
    text, error = render(traffic)
    assert error is None
    name = "registry_monitor_http_request_duration_seconds"
    assert value(text, f"{name}_count", route="manifest", method="GET") == 1
    assert value(text, f"{name}_bucket", route="manifest", method="GET", le="0.005") == 1


def test_check_registrys_window_takes_the_manifest_p95_from_the_journal(tmp_path: Path) -> None:
    """Through nginx, the registry timed manifest reads of 1.922087ms, 1.852002ms (HEAD),
    1.243929ms and 992.2µs (the 404): nearest-rank p95 of four is the largest. The recorded
    entries are dated 2026-12-06; the window is made to reach back to them."""
    script, _ = journal_replay.write(tmp_path, LINES)
    log = tmp_path / "access.log"
    log.write_text("")
    config = Config(access_log=AccessLog(path=log), state_dir=tmp_path / "state")
    oldest = int(json.loads(LINES[0])["__REALTIME_TIMESTAMP"]) / 1e6
    traffic = TrafficProbe(config, window_minutes=(time.time() - oldest) / 60 + 1)
    traffic.journalctl = str(script)
    reading = run_probe(traffic, Deadline(10))
    assert reading.error is None
    window = reading.value
    assert isinstance(window, TrafficWindow)
    assert (window.durations, window.timed_reads, window.manifest_p95_seconds) == (
        "journal",
        4,
        pytest.approx(0.001922087),
    )
    assert journal_replay.calls(tmp_path)[-1][-1] == f"--since=@{int(window.since)}"


def test_check_registrys_window_without_the_journal_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    config = Config(access_log=AccessLog(path=log), state_dir=tmp_path / "state")
    traffic = TrafficProbe(config, window_minutes=5)
    traffic.journalctl = str(tmp_path / "no-journalctl")
    reading = run_probe(traffic, Deadline(10))
    assert str(reading.error).startswith(f"durations: cannot run {tmp_path / 'no-journalctl'}: ")
    assert isinstance(reading.value, TrafficWindow) and reading.value.requests == 0
