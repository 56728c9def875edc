"""A guard on uvicorn's HTTP/1.1 connections: idle ones may not crowd out a scrape.

uvicorn (h11) starts no timer on a new connection: one that never sends a
request, or stops half-way through one, stays open for ever; and its
`limit_concurrency` counts such connections, so 63 of them turn every
scrape into a 503. This protocol adds what is missing:

- a header time-out: a connection with no request being answered is closed
  `header_timeout` seconds after it opened or after its last response;
- a connection cap: past `max_connections`, the connection that has waited
  longest without a request is closed to make room for the new one;
- closures are logged at a bounded rate (RateLimitFilter).

A request whose head has arrived is never cut: the handlers answer from
memory in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("registry_exporter.connections")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 512
FDS_BESIDES_CONNECTIONS = 256  # probes, log, state files, the standby's spool


class RateLimitFilter(logging.Filter):
    """At most one record per message template every `interval` seconds; the next one
    that passes says how many like it were held back."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self.interval = interval
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        if now - self.last.get(key, -self.interval) < self.interval:
            self.held[key] = self.held.get(key, 0) + 1
            return False
        self.last[key] = now
        held = self.held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it since the last such line)"
        return True


class Guard:
    """The limits, and the connections now waiting for a request (oldest first)."""

    def __init__(self, header_timeout: float, max_connections: int) -> None:
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.waiting: dict[GuardedH11Protocol, None] = {}  # insertion-ordered set


class GuardedH11Protocol(H11Protocol):
    guard: ClassVar[Guard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_waiting()
        if len(self.connections) > self.guard.max_connections:
            oldest = next(iter(self.guard.waiting))
            log.warning(
                "connection cap (%d) reached: closing the connection that waited longest "
                "without a request",
                self.guard.max_connections,
            )
            oldest.close_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.answering():
            self.stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.answering():
            self.start_waiting()

    def answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def start_waiting(self) -> None:
        self.stop_waiting()
        self.guard.waiting[self] = None
        self.header_timer = self.loop.call_later(self.guard.header_timeout, self.header_timed_out)

    def stop_waiting(self) -> None:
        self.guard.waiting.pop(self, None)
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def header_timed_out(self) -> None:
        self.header_timer = None
        if self.answering():  # a request arrived: it owns the connection now
            self.guard.waiting.pop(self, None)
            return
        log.info(
            "closing connections that sent no complete request within %gs",
            self.guard.header_timeout,
        )
        self.close_idle()

    def close_idle(self) -> None:
        self.stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"guard": Guard(header_timeout, max_connections)},
    )


def room_for_connections(wanted: int) -> int:
    """Raise the soft open-files limit to fit `wanted` connections; the number that fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FDS_BESIDES_CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < need:
        new_soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - FDS_BESIDES_CONNECTIONS))
