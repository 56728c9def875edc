"""A guard on uvicorn's HTTP/1.1 connections: idle ones may not crowd out a scrape.

uvicorn (h11) starts no timer on a new connection: one that never sends a
request, or stops half-way through one, stays open for ever; and its
`limit_concurrency` counts such connections, so 63 of them turn every
scrape into a 503. This protocol adds what is missing:

- a header time-out: a connection with no request being answered is closed
  `header_timeout` seconds after it opened or after its last response;
- a response time-out (3 x header_timeout): a client that does not read its
  answer (the write stalls) has its connection aborted;
- a connection cap: past `max_connections`, the connection that has waited
  longest without a request is closed to make room for the new one;
- closures are logged at a bounded rate (RateLimitFilter).

"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
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
        # A client that does not read its answer holds the response's task: the
        # handlers answer from memory in milliseconds, so this is generous.
        self.response_timeout = 3 * header_timeout
        self.max_connections = max_connections
        self.waiting: dict[GuardedH11Protocol, None] = {}  # insertion-ordered set


class GuardedH11Protocol(H11Protocol):
    guard: ClassVar[Guard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timer: asyncio.TimerHandle | None = None
        self.watched: object = None  # the request cycle the timer is for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.watch_idle()
        if len(self.connections) > self.guard.max_connections:
            oldest = next(iter(self.guard.waiting))
            log.warning(
                "connection cap (%d) reached: closing the connection that waited longest "
                "without a request",
                self.guard.max_connections,
            )
            oldest.close_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.answering() and self.cycle is not self.watched:  # a request head arrived
            self.watched = self.cycle
            self.guard.waiting.pop(self, None)
            self.arm(self.guard.response_timeout, self.answer_too_long)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start answering a pipelined request
        if not self.transport.is_closing() and not self.answering():
            self.watch_idle()

    def answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def watch_idle(self) -> None:
        self.guard.waiting.pop(self, None)
        self.guard.waiting[self] = None  # to the end: the newest idle one
        self.arm(self.guard.header_timeout, self.idle_too_long)

    def arm(self, seconds: float, then: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(seconds, then)

    def disarm(self) -> None:
        self.guard.waiting.pop(self, None)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def idle_too_long(self) -> None:
        self.timer = None
        log.info(
            "closing connections that sent no complete request within %gs",
            self.guard.header_timeout,
        )
        self.close_idle()

    def answer_too_long(self) -> None:
        self.timer = None
        log.warning(
            "closing connections whose client did not take its response within %gs",
            self.guard.response_timeout,
        )
        self.disarm()
        self.transport.abort()  # close() would wait to flush to a client that does not read

    def close_idle(self) -> None:
        self.disarm()
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
