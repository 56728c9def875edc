"""Property tests of the access-log line parser and the route classifier: any text in, a
Request or None out, never an exception; every line nginx can write read back exactly."""

from __future__ import annotations

import calendar
import time

from hypothesis import example, given
from hypothesis import strategies as st

from registry_monitor.accesslog.formats import FORMATS, METHODS, Format, Parser
from registry_monitor.accesslog.routes import ROUTES, route_of

# a repository name as distribution's grammar allows: components joined by /
alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
separator = st.sampled_from([".", "_", "__", "-", "--"])
component = st.tuples(alnum, st.lists(st.tuples(separator, alnum), max_size=2)).map(
    lambda c: c[0] + "".join(s + a for s, a in c[1])
)
repository = st.lists(component, min_size=1, max_size=4).map("/".join)
reference = st.tuples(
    st.text("abcXYZ019_", min_size=1, max_size=1), st.text("abcXYZ019_.-", max_size=40)
).map("".join)
digest = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())
query = st.one_of(st.just(""), st.from_regex(r"\?[a-z_]+=[A-Za-z0-9%._-]{0,20}", fullmatch=True))


@st.composite
def routed_paths(draw: st.DrawFn) -> tuple[str, str]:
    repo = draw(repository)
    kind = draw(st.sampled_from(ROUTES))
    q = draw(query)
    path = {
        "base": "/v2/",
        "catalog": "/v2/_catalog",
        "tags": f"/v2/{repo}/tags/list",
        "manifest": f"/v2/{repo}/manifests/{draw(st.one_of(reference, digest))}",
        "blob": f"/v2/{repo}/blobs/{draw(digest)}",
        "blob_upload": f"/v2/{repo}/blobs/uploads/{draw(st.sampled_from(['', 'a1b2-c3d4']))}",
        "other": draw(st.sampled_from(["/", "/favicon.ico", "/v1/_ping", "/v2/" + repo])),
    }[kind]
    return path + q, kind


@given(routed_paths())
@example(("/v2/_catalog?n=100&last=a", "catalog"))
@example(("/v2/blobs/uploads/", "other"))  # no repository
@example(("/v2/tags/list/manifests/x", "manifest"))  # a repository named like a route
@example(("/v2/a/manifests/tags/list", "tags"))  # and the other way round
def test_routes_of_registry_paths(case: tuple[str, str]) -> None:
    path, kind = case
    assert route_of(path) == kind


@given(st.text(max_size=300))
def test_route_of_any_text_is_one_of_the_routes(text: str) -> None:
    assert route_of(text) in ROUTES


statuses = st.integers(100, 599)
seconds = st.integers(0, 4_000_000_000)
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15)
escaped = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'), max_size=60
)


def time_local(unix: int, offset_minutes: int) -> str:
    local = time.gmtime(unix + offset_minutes * 60)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return time.strftime("%d/%b/%Y:%H:%M:%S", local) + f" {sign}{hours:02d}{minutes:02d}"


@st.composite
def log_lines(draw: st.DrawFn, fmt: Format) -> tuple[str, dict[str, object]]:
    path, kind = draw(routed_paths())
    method = draw(st.sampled_from(sorted(METHODS)))
    status, sent = draw(statuses), draw(st.integers(0, 10**12))
    unix, offset = draw(seconds), draw(offsets)
    line = (
        f"{draw(st.sampled_from(['127.0.0.1', '2001:db8::1']))} - "
        f"{draw(st.sampled_from(['-', 'tools.bot']))} [{time_local(unix, offset)}] "
        f'"{method} {path} HTTP/1.1" {status} {sent} "{draw(escaped)}" "{draw(escaped)}"'
    )
    expected: dict[str, object] = {
        "time": float(unix),
        "method": method,
        "target": path,
        "route": kind,
        "status": status,
        "bytes_sent": sent,
    }
    if fmt == "registry_monitor":
        millis = draw(st.integers(0, 3_600_000))
        answered = draw(st.booleans())
        upstream_status = str(draw(statuses)) if answered else draw(st.sampled_from(["502", "-"]))
        header = f"{draw(st.integers(0, 999)) / 1000:.3f}" if answered else "-"
        line += (
            f' {millis // 1000}.{millis % 1000:03d} "{header}" "{upstream_status}" '
            f'"{draw(escaped)}" "{header}"'
        )
        expected["duration"] = millis / 1000
        expected["upstream_error"] = status >= 500 and not answered and upstream_status != "-"
    return line, expected


def check_parsed(fmt: Format, case: tuple[str, dict[str, object]]) -> None:
    line, expected = case
    request = Parser(fmt).parse(line)
    assert request is not None, line
    got: dict[str, object] = {
        "time": request.time,
        "method": request.method,
        "target": request.target,
        "route": route_of(request.target),
        "status": request.status,
        "bytes_sent": request.bytes_sent,
    }
    if fmt == "registry_monitor":
        got["duration"] = request.duration
        got["upstream_error"] = request.upstream_error
    else:
        assert (request.duration, request.upstream_error) == (None, None)
    assert got == expected


@given(log_lines("combined"))
def test_every_combined_line_reads_back_exactly(case: tuple[str, dict[str, object]]) -> None:
    check_parsed("combined", case)


@given(log_lines("registry_monitor"))
def test_every_registry_monitor_line_reads_back_exactly(
    case: tuple[str, dict[str, object]],
) -> None:
    check_parsed("registry_monitor", case)


@given(log_lines("registry_monitor"))
def test_an_extended_line_is_not_a_combined_line_and_back(
    case: tuple[str, dict[str, object]],
) -> None:
    """The configured format decides: a line of the other one is skipped, not misread."""
    line, _ = case
    assert Parser("combined").parse(line) is None
    assert Parser("registry_monitor").parse(line.split('" ', 4)[0]) is None


@given(st.sampled_from(FORMATS), st.text(max_size=400))
@example("combined", '1 - - [31/Feb/2026:25:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-"')
@example("combined", '1 - - [01/Foo/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "-"')
@example("combined", '1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 600 0 "-" "-"')
@example("combined", '1 - - [01/Dec/2026:10:00:00 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"')
def test_any_text_is_a_request_or_none_never_an_error(fmt: Format, text: str) -> None:
    request = Parser(fmt).parse(text)
    if request is not None:
        assert 100 <= request.status <= 599
        assert request.method in METHODS | {"other"}
        assert route_of(request.target) in ROUTES


def test_a_garbage_request_line_is_a_request_of_method_other() -> None:
    line = '10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "\\x16\\x03\\x01\\x02" 400 157 "-" "-"'
    request = Parser("combined").parse(line)
    assert request is not None
    assert (request.method, request.target, request.status) == ("other", "", 400)
    assert request.time == calendar.timegm((2026, 12, 1, 10, 0, 0, 0, 0, 0))


def test_upstream_values_after_retries_use_the_last_attempt() -> None:
    line = (
        '1 - - [01/Dec/2026:10:00:00 +0000] "GET /v2/ HTTP/1.1" 502 157 "-" "-" '
        '3.004 "3.001, 0.000" "504, 502" "registry" "-, -"'
    )
    request = Parser("registry_monitor").parse(line)
    assert request is not None and request.upstream_error is True
    answered = line.replace('"-, -"', '"-, 0.002"')
    request = Parser("registry_monitor").parse(answered)
    assert request is not None and request.upstream_error is False
