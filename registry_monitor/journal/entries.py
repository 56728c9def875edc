"""One `journalctl -o json` line -> the request the registry says it answered, or None.

The registry (distribution 2.x, Debian's docker-registry) logs every request it
routed when the response is done: `response completed` (200-399) or `response
completed with error`, both with `http.request.method`, `http.request.uri`,
`http.request.host`, `http.response.status` and `http.response.duration` (a Go
duration: `2.931134ms`, `1.5s`, `1m2.5s`, `812µs`). Puppet's config.yml
(modules/docker/manifests/registry.pp) sets no `log:` section, so the formatter
is distribution's default, logrus' `text`: `key=value` pairs, a value quoted
(Go's %q) when it holds anything but letters, digits and `-._/@^+`. The `json`
formatter (`log.formatter: json`) is read too. journald keeps the line as the
entry's MESSAGE; a MESSAGE that is not valid UTF-8 comes as a list of bytes,
which no request entry is.

Anything else (the registry's other messages, garbage, another unit's lines)
is None: counted and skipped by the caller, never fatal.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from registry_monitor.accesslog.formats import METHODS

MESSAGES = ("response completed", "response completed with error")

# logrus text: key=value, value bare or a Go-quoted string
_PAIR = re.compile(r'([^\s=]+)=("[^"\\]*(?:\\.[^"\\]*)*"|\S*)')
_ESCAPE = re.compile(r"\\(.)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5, what Go writes
    "μs": 1e-6,  # U+03BC, accepted by Go's parser too
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_WANTED = (
    "msg",
    "http.request.method",
    "http.request.uri",
    "http.request.host",
    "http.response.status",
    "http.response.duration",
)


class Completed(NamedTuple):
    time: float  # unix time journald received the entry (__REALTIME_TIMESTAMP)
    method: str  # one of accesslog.formats.METHODS, or "other"
    target: str  # the request URI, query string included
    host: str  # the Host the request carried: nginx passes the client's ($host)
    status: int
    duration: float  # seconds the registry took, request routed to response written


def go_duration(text: str) -> float | None:
    """Seconds in a Go time.Duration's String() (`1m2.5s`, `3.2ms`, `0s`); None if not one."""
    if text in ("0", "0s"):
        return 0.0
    total, at = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != at:
            return None
        total += float(match[1]) * _UNIT_SECONDS[match[2]]
        at = match.end()
    return total if at == len(text) and at > 0 else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return _ESCAPE.sub(lambda m: m[1], value[1:-1])
    return value


def _fields(message: str) -> dict[str, str] | None:
    """The wanted fields of a registry log line in either formatter."""
    if message.startswith("{"):
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        return {k: str(data[k]) for k in _WANTED if k in data}
    if "response completed" not in message:
        return None  # the registry's other lines, without the cost of splitting them
    found = {}
    for key, value in _PAIR.findall(message):
        if key in _WANTED:
            found[key] = _unquote(value)
    return found


def parse(line: str | bytes) -> tuple[str | None, Completed | None]:
    """(the entry's cursor, where the next read goes on from; the request it logs, if
    it is one the registry answered). (None, None) for a line that is no entry."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(entry, dict):
        return None, None
    cursor = entry.get("__CURSOR")
    if not isinstance(cursor, str):
        return None, None
    return cursor, _completed(entry)


def _completed(entry: dict[str, object]) -> Completed | None:
    message, stamp = entry.get("MESSAGE"), entry.get("__REALTIME_TIMESTAMP")
    if not isinstance(message, str) or not isinstance(stamp, str) or not stamp.isdigit():
        return None
    fields = _fields(message)
    if fields is None or fields.get("msg") not in MESSAGES:
        return None
    status_text = fields.get("http.response.status", "")
    duration = go_duration(fields.get("http.response.duration", ""))
    if duration is None or not (status_text.isdigit() and len(status_text) == 3):
        return None
    status = int(status_text)
    if not 100 <= status <= 599:
        return None
    method = fields.get("http.request.method", "")
    return Completed(
        time=int(stamp) / 1e6,
        method=method if method in METHODS else "other",
        target=fields.get("http.request.uri", ""),
        host=fields.get("http.request.host", ""),
        status=status,
        duration=duration,
    )
