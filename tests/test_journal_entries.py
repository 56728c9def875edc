"""The registry's journal entries, as `journalctl -u docker-registry -o json
--output-fields=MESSAGE` printed them on a real host (tests/data/docker-registry-journal.json:
Debian's docker-registry 2.8.2 with puppet's config.yml, pulls through puppet's nginx
site, under systemd and journald), read into requests with durations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry_monitor.journal.durations import direct_hosts
from registry_monitor.journal.entries import Completed, go_duration, parse

RECORDED = (Path(__file__).parent / "data" / "docker-registry-journal.json").read_text()
LINES = RECORDED.splitlines()
PUBLIC = "docker-registry.tools.wmflabs.org"
REPO = "/v2/toolforge-python311-sssd-base"


def completed(i: int) -> Completed | None:
    cursor, request = parse(LINES[i])
    assert cursor == json.loads(LINES[i])["__CURSOR"]
    return request


def test_the_registrys_other_lines_are_entries_but_no_requests() -> None:
    # systemd's "Started", a logrus info line, the registry's own combined access log
    assert [completed(i) for i in (0, 1, 2)] == [None, None, None]


def test_a_request_straight_to_the_registry_carries_its_own_address() -> None:
    assert completed(3) == Completed(
        time=1796550280.606618,
        method="HEAD",
        target=f"{REPO}/manifests/latest",
        host="127.0.0.1:5000",
        status=200,
        duration=pytest.approx(0.00179078),  # type: ignore[arg-type]
    )


def test_quoted_values_and_microseconds_through_nginx() -> None:
    request = completed(5)  # http.response.duration="807.934µs", quoted for the µ
    assert request is not None
    assert (request.method, request.target, request.host, request.status) == (
        "GET",
        "/v2/",
        PUBLIC,
        200,
    )
    assert request.duration == pytest.approx(807.934e-6)
    catalog = completed(7)  # http.request.uri="/v2/_catalog?n=1000"
    assert catalog is not None and catalog.target == "/v2/_catalog?n=1000"


def test_response_completed_with_error_is_timed_too() -> None:
    request = completed(13)
    assert request is not None
    assert (request.method, request.target, request.status) == (
        "GET",
        f"{REPO}/manifests/nope",
        404,
    )
    assert request.duration == pytest.approx(992.2e-6)


def test_every_recorded_request_is_read() -> None:
    requests = [r for r in map(completed, range(len(LINES))) if r is not None]
    assert [(r.method, r.host == PUBLIC, r.status) for r in requests] == [
        ("HEAD", False, 200),
        ("PUT", False, 201),
        *[("GET", True, 200)] * 4,
        ("HEAD", True, 200),
        *[("GET", True, 200)] * 3,
        ("GET", True, 404),
        ("GET", True, 200),
    ]


def test_the_json_formatter_is_read_too() -> None:
    # the registry's `log: {formatter: json}` line, as its stderr printed it, in a journal
    # entry of the recorded shape
    message = (
        '{"go.version":"go1.19.8","http.request.host":"127.0.0.1:5998","http.request.id":'
        '"fc9f45e3","http.request.method":"GET","http.request.remoteaddr":"127.0.0.1:50450",'
        '"http.request.uri":"/v2/","http.response.duration":"1.703441ms",'
        '"http.response.status":200,"http.response.written":2,"level":"info",'
        '"msg":"response completed","time":"2026-12-06T09:40:15.553603606Z"}'
    )
    entry = {**json.loads(LINES[5]), "MESSAGE": message}
    cursor, request = parse(json.dumps(entry))
    assert cursor == entry["__CURSOR"] and request is not None
    assert (request.method, request.status, request.host) == ("GET", 200, "127.0.0.1:5998")
    assert request.duration == pytest.approx(0.001703441)


@pytest.mark.parametrize(
    "message",
    [
        'time="x" level=info msg="response completed" http.response.status=200',  # no duration
        'level=info msg="response completed" http.response.duration=1ms http.response.status=2000',
        'level=info msg="response completed" http.response.duration=soon http.response.status=200',
        'level=info msg="response completed" http.response.duration=1ms http.response.status=700',
        'level=info msg="response completed later" http.response.duration=1ms '
        "http.response.status=200",
        '{"msg": "response completed", "http.response.duration": "1ms"}',
        "[1, 2]",
        "{not json",
    ],
)
def test_damaged_messages_are_entries_without_a_request(message: str) -> None:
    entry = {**json.loads(LINES[5]), "MESSAGE": message}
    assert parse(json.dumps(entry)) == (entry["__CURSOR"], None)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        "[]",
        '{"MESSAGE": "x"}',  # no cursor
        '{"__CURSOR": 5, "MESSAGE": "x"}',
        "{" * 100_000,
    ],
)
def test_lines_that_are_no_entry(line: str) -> None:
    assert parse(line) == (None, None)


def test_a_message_journald_kept_as_bytes_is_no_request() -> None:
    entry = {**json.loads(LINES[5]), "MESSAGE": [104, 255, 105]}  # not UTF-8
    assert parse(json.dumps(entry)) == (entry["__CURSOR"], None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2.931134ms", 0.002931134),
        ("807.934µs", 807.934e-6),
        ("1.5μs", 1.5e-6),
        ("500ns", 500e-9),
        ("1.5s", 1.5),
        ("1m2.5s", 62.5),
        ("2h0m1s", 7201.0),
        ("0s", 0.0),
        ("", None),
        ("1.5", None),
        ("ms", None),
        ("1ms ", None),
        ("-1s", None),
        ("1ms2", None),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    got = go_duration(text)
    assert got == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("http://127.0.0.1:5000", {"127.0.0.1:5000"}),
        ("http://localhost", {"localhost", "localhost:80"}),
        ("https://[::1]:5000/", {"[::1]:5000"}),
    ],
)
def test_the_hosts_of_requests_that_bypass_nginx(url: str, hosts: set[str]) -> None:
    assert direct_hosts(url) == hosts
