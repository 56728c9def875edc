"""Parse one access-log line of either format into a Request.

`combined` is nginx's default format, the one puppet's site leaves (its
durations come from the registry's journal instead: journal/). `registry_monitor`
is `combined` followed by five fields (LOG_FORMAT below, for a site whose
log_format puppet itself renders): the request's time, the upstream's response
time, status and header time, and the Host. nginx escapes `"`, `\\` and bytes outside printable
ASCII in variables as `\\xNN`, so a quoted field never holds a raw quote and
a line is ASCII; anything that does not match is garbage, counted and skipped
by the caller.

`$upstream_header_time` is `-` when nginx got no response header from the
registry (refused, reset, timed out): that is what tells a 502/504 made by
nginx from a 5xx the registry answered itself, which `$upstream_status`
alone cannot (nginx sets it to 502 on a refused connection too).
"""

from __future__ import annotations

import calendar
import re
from typing import Literal, NamedTuple

Format = Literal["combined", "registry_monitor"]
FORMATS: tuple[Format, ...] = ("combined", "registry_monitor")

LOG_FORMAT = (
    "log_format registry_monitor '$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
    '$request_time "$upstream_response_time" "$upstream_status" "$host" '
    '"$upstream_header_time"\';'
)

METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"})

_COMBINED = r'\S+ \S+ \S+ \[([^\]]{26})\] "([^"]*)" ([1-5]\d\d) (\d+|-) "[^"]*" "[^"]*"'
_EXTRA = r' (\d+\.\d+) "([^"]*)" "([^"]*)" "[^"]*" "([^"]*)"'
_PATTERNS = {
    "combined": re.compile(_COMBINED + r"\s*$"),
    "registry_monitor": re.compile(_COMBINED + _EXTRA + r"\s*$"),
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_TIME = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")


class Request(NamedTuple):
    time: float  # unix time the request ended ($time_local, to the second)
    method: str  # one of METHODS, or "other" (a garbage request line is still a request)
    target: str  # the request target, query string included; "" when unreadable
    status: int
    bytes_sent: int
    duration: float | None  # $request_time; None in the combined format
    upstream_error: bool | None  # a 5xx nginx made for want of a registry answer


class _TimeCache:
    """$time_local -> unix time; a busy log repeats the same second thousands of times."""

    def __init__(self) -> None:
        self._cache: dict[str, float] = {}

    def __call__(self, text: str) -> float | None:
        value = self._cache.get(text)
        if value is not None:
            return value
        match = _TIME.fullmatch(text)
        month = _MONTHS.get(match[2]) if match else None
        if match is None or month is None:
            return None
        day, year = int(match[1]), int(match[3])
        hour, minute, second = int(match[4]), int(match[5]), int(match[6])
        if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
            return None
        offset = (int(match[8]) * 60 + int(match[9])) * 60
        unix = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        value = float(unix - offset if match[7] == "+" else unix + offset)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[text] = value
        return value


def _last(values: str) -> str:
    """The last attempt's value of an upstream variable ("0.1, 0.2 : -" after retries)."""
    cut = max(values.rfind(","), values.rfind(":"))
    return values[cut + 1 :].strip() if cut >= 0 else values.strip()


class Parser:
    """parse(line) -> Request, or None for a line that is not of this format."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.extended = fmt == "registry_monitor"
        self._match = _PATTERNS[fmt].match
        self._time = _TimeCache()

    def parse(self, line: str) -> Request | None:
        match = self._match(line)
        if match is None:
            return None
        when = self._time(match[1])
        if when is None:
            return None
        method, _, rest = match[2].partition(" ")
        target, space, protocol = rest.rpartition(" ")
        if not space or not protocol.startswith("HTTP/"):
            target = rest
        if method not in METHODS:
            method, target = "other", ""
        status = int(match[3])
        sent = 0 if match[4] == "-" else int(match[4])
        if not self.extended:
            return Request(when, method, target, status, sent, None, None)
        header_time = _last(match[8])
        upstream_error = status >= 500 and header_time in ("-", "") and _last(match[7]) != "-"
        return Request(when, method, target, status, sent, float(match[5]), upstream_error)
