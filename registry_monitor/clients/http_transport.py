"""What registry_monitor.clients.http adds under requests: the whole-call deadline and the pin.

requests (urllib3) bounds each socket read, so a server that drips its head or
body a byte at a time never times out. Here a `Call` carries its end; one
watchdog thread shuts the socket of the connection a call is using when that
end passes, which wakes the blocked read, and the call is reported as timed
out. Connect and the TLS handshake are bounded by the socket time-out set from
the time left (urllib3 owns the socket only once the handshake is done).

The connections of a pool may also `dial` a fixed (host, port) for a host name
(the pin) while keeping its SNI, Host header and certificate check; the TLS
context holds the trust store (ca_file or the system's), loaded once per
version of the file.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

from registry_monitor.tls.trust import trust_store


class BundleUnloadable(Exception):
    """The CA bundle does not load."""


class Call:
    """One request of a Client, redirects and body included, and how far it got."""

    __slots__ = ("connection", "done", "end", "expired")

    def __init__(self, end: float | None) -> None:
        self.end = end  # time.monotonic() by which it must be done; None: unbounded
        self.expired = False  # the watchdog ended it
        self.done = False  # its body was read or given up: nothing left to watch
        self.connection: _Watched | None = None  # the connection it is using

    def left(self) -> float | None:
        """Seconds left (at least 1 ms, so that a socket time-out stays a time-out)."""
        return None if self.end is None else max(0.001, self.end - time.monotonic())

    def phase(self) -> str:
        """Where the call stood: connect, handshake or exchange (sending and reading)."""
        return "connect" if self.connection is None else self.connection.phase


class _Watchdog:
    """One thread for every Client: at a call's end, shut its connection's socket."""

    def __init__(self) -> None:
        # Held while a watched connection closes its socket, so that a shutdown never
        # reaches a descriptor number already reused for something else. Re-entrant: a
        # close can run a pool's finalizer (garbage collection) that closes another
        # connection in the same thread.
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Call]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, call: Call) -> None:
        assert call.end is not None
        with self._wake:
            heapq.heappush(self._heap, (call.end, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)
                self._thread.start()
            self._wake.notify()

    def attach(self, connection: _Watched, call: Call | None) -> None:
        with self.lock:
            connection.call = call
            if call is not None:
                call.connection = connection

    def finish(self, call: Call) -> None:
        with self.lock:
            call.done = True
            if call.connection is not None and call.connection.call is call:
                call.connection.call = None

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    call = heapq.heappop(self._heap)[2]
                    if not call.done:
                        self._expire(call)
                self._wake.wait(self._heap[0][0] - now if self._heap else None)

    @staticmethod
    def _expire(call: Call) -> None:
        call.expired = True
        connection = call.connection
        if connection is None or connection.call is not call or connection.sock is None:
            return  # not connected yet: the connect or handshake time-out bounds it
        with contextlib.suppress(OSError):  # the plain socket's shutdown, not TLS's
            socket.socket.shutdown(connection.sock, socket.SHUT_RDWR)


WATCHDOG = _Watchdog()
_current = threading.local()  # the Call the Client in this thread is making


def current_call(call: Call | None) -> None:
    _current.call = call


class _Watched(HTTPConnection):
    """A connection the watchdog can end, which dials `dial` when it is set."""

    def __init__(self, *args: Any, dial: tuple[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dial = dial
        self.call: Call | None = None
        self.phase = "connect"

    def _attach(self) -> None:
        WATCHDOG.attach(self, getattr(_current, "call", None))

    def _new_conn(self) -> socket.socket:
        if self.dial is None:
            sock = super()._new_conn()
        else:  # urllib3 dials (_dns_host, port); the Host header and SNI keep the name
            named = self._dns_host, self.port
            self._dns_host, self.port = self.dial
            try:
                sock = super()._new_conn()
            finally:
                self._dns_host, self.port = named
        self.phase = "handshake" if isinstance(self, HTTPSConnection) else "exchange"
        return sock

    def connect(self) -> None:
        self._attach()
        self.phase = "connect"
        if self.call is not None and self.call.end is not None:
            # a redirect's new connection gets what is left, not the call's first time-out
            self.timeout = self.call.left()
        super().connect()
        self.phase = "exchange"

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._attach()
        super().request(*args, **kwargs)

    def close(self) -> None:
        with WATCHDOG.lock:
            super().close()


class _HTTPConnection(_Watched):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _PoolManager(PoolManager):
    def __init__(
        self, *args: Any, pin: tuple[str, tuple[str, int]] | None, ca_file: Path | None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        self.pin, self.ca_file = pin, ca_file

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        if scheme == "https":
            try:
                context["ssl_context"] = tls_context(self.ca_file)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise BundleUnloadable(str(exc)) from None
        pool = super()._new_pool(scheme, host, port, context)
        if self.pin is not None and host.lower() == self.pin[0]:
            pool.conn_kw["dial"] = self.pin[1]
        return pool


class Adapter(HTTPAdapter):
    """requests' adapter on the watched pools; no retries (a probe reports, never retries)."""

    def __init__(self, pin: tuple[str, tuple[str, int]] | None, ca_file: Path | None) -> None:
        self.pin, self.ca_file = pin, ca_file  # before HTTPAdapter makes the pool manager
        super().__init__(pool_maxsize=4)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self.poolmanager = _PoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            pin=self.pin,
            ca_file=self.ca_file,
            **pool_kwargs,
        )

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The pool's TLS context already holds the trust store: no bundle loaded per call.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = None


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context, made once per version of the trust store: loading a
    CA bundle costs milliseconds, and one context serves any number of connections and
    threads; a bundle changed on disk (a CA added) is loaded again."""
    trust = trust_store(ca_file)
    if not isinstance(trust, str):
        return _context(None, 0, 0)
    try:
        stat = Path(trust).stat()
    except OSError:
        return _context(trust, 0, 0)  # let ssl say what is wrong with it
    return _context(trust, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _context(ca_file: str | None, mtime_ns: int, size: int) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context
