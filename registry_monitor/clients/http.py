"""HTTP for the probes: requests, held to a deadline per call as a whole.

A `Client` serves one probe in one thread at a time: a requests Session whose
pools keep one keep-alive connection per host, so the many requests of a run
(the catalog walk, a pull's manifests and blobs) share one TCP connection and
one TLS handshake, verified against the configured CA bundle.

What requests alone does not give, and this module adds (http_transport.py):

- The `timeout` of a request bounds the call as a whole: connect, TLS
  handshake, sending, the response head and the body, however slowly the
  server drips them (a socket time-out alone bounds each read, not the call).
- Bodies are streamed as they arrive; `read_capped` cuts them at a size cap,
  so a server that drips or sends gigabytes costs one failed reading, not the
  exporter's memory or a hung thread. A redirect's own body is never kept.
- A pin connects to a fixed HOST:PORT for one host name while keeping that
  name's SNI, Host header and certificate check.
- Never retries; follows redirects only when asked to (`redirects=N`), and
  drops credentials for another host (requests' rule); reads no proxy, netrc
  or CA settings from the environment; asks for bodies as they are stored
  (`Accept-Encoding: identity`), so a digest is of the bytes sent.
- Every failure to get an answer is a `RequestFailed` whose text is a short
  reason for operators ("connection refused", "read timed out", ...).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from registry_monitor import __version__
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients.http_transport import (
    WATCHDOG,
    Adapter,
    BundleUnloadable,
    Call,
    current_call,
    tls_context,
)

__all__ = [
    "USER_AGENT",
    "BodyCut",
    "Client",
    "RequestFailed",
    "Response",
    "redact_url",
    "tls_context",
]

USER_AGENT = f"registry-monitor/{__version__}"
DRAIN_BYTES = 65536  # a body this small is read to its end on close, to keep the connection
# What requests and urllib3 raise for a request that got no (whole) answer.
_FAILURES = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,
    BundleUnloadable,
)


class _ClosedOnExit:
    """`with` closes it, whatever ends the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RequestFailed(Exception):
    """No (whole) answer to a request; str() is a short reason for operators."""


class BodyCut(RequestFailed):
    """The connection ended before the body its Content-Length or chunking announced."""


class Response(_ClosedOnExit):
    """Status and headers of an answer; its body is read on demand, within the call's time.

    Closing it reads the rest of a small body (so the connection serves the next
    request) or closes the connection.
    """

    def __init__(self, answer: requests.Response, call: Call) -> None:
        self._answer, self._call = answer, call
        self.status = answer.status_code
        self.headers = answer.headers  # case-insensitive: headers.get("content-length")
        self.url = answer.url  # after any redirects
        self._closed = False

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body, as soon as any arrived; b"" at its end.
        RequestFailed if it fails (BodyCut if the connection ends before the body)."""
        try:
            data = self._answer.raw.read1(amount, decode_content=False)
        except _FAILURES as exc:
            failure = _failure(exc, self._call)
            self.close()
            raise failure from None
        if self._call.expired:  # what a shut socket gave is no answer
            self.close()
            raise RequestFailed(_timed_out(self._call))
        if not data:
            self.close()
        return data

    def iter_chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The body in chunks of up to `size` bytes, as they arrive."""
        while chunk := self.read(size):
            yield chunk

    def read_capped(self, limit: int, deadline: Deadline) -> bytes:
        """The whole body; ProbeFailed if it is larger than limit or outlasts the deadline."""
        declared = self.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            self.close()
            raise ProbeFailed(
                f"response body of {int(declared)} bytes exceeds the {limit} byte cap"
            )
        chunks: list[bytes] = []
        total = 0
        for chunk in self.iter_chunks(65536):
            total += len(chunk)
            if total > limit:
                self.close()
                raise ProbeFailed(f"response body exceeds the {limit} byte cap")
            if deadline.expired():
                self.close()
                raise ProbeFailed("response body still arriving at the probe's deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _settle(self._answer, self._call)
            WATCHDOG.finish(self._call)


def _settle(answer: requests.Response, call: Call) -> None:
    """Give the answer's connection back to its pool: read to the end of a small body
    (within the call's time), or close the connection when the rest is large or unknown."""
    raw = answer.raw
    left = raw.length_remaining
    if not raw.closed and not call.expired and left is not None and left <= DRAIN_BYTES:
        try:
            while raw.read1(DRAIN_BYTES, decode_content=False):
                pass
        except _FAILURES:
            raw.close()
    if not raw.closed or call.expired:
        raw.close()  # closes the connection, whose pool then opens a new one
    raw.release_conn()


class Client(_ClosedOnExit):
    """HTTP for one probe, used from one thread at a time: see the module's text.

    `pin` = (host name, "HOST:PORT"): requests to that name connect to HOST:PORT.
    """

    def __init__(self, ca_file: Path | None = None, pin: tuple[str, str] | None = None) -> None:
        self.ca_file = ca_file
        self.pin: tuple[str, tuple[str, int]] | None = None
        if pin is not None:
            host, _, port = pin[1].rpartition(":")
            self.pin = (pin[0].lower(), (host.strip("[]"), int(port)))
        session = requests.Session()
        session.trust_env = False  # no proxies, netrc or CA bundle from the environment
        session.headers.clear()
        session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
        )
        self._adapter = Adapter(self.pin, ca_file)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        self._session = session

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        redirects: int = 0,
    ) -> Response:
        """The answer once its head has arrived; RequestFailed if none did.

        `timeout` bounds the whole call, the body's reading included, and every
        redirect followed. A redirect is answered as it is unless `redirects`
        allows that many to be followed (Authorization is dropped for another
        host; 303, and 301/302 to a POST, turn into a GET).
        """
        _check_url(url)
        call = Call(None if timeout is None else time.monotonic() + timeout)
        if call.end is not None:
            WATCHDOG.watch(call)
        left = call.left()
        timeouts = None if left is None else (left, left)
        current_call(call)
        try:
            if redirects:
                self._session.max_redirects = redirects
                answer = self._session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    data=body,
                    timeout=timeouts,
                    stream=True,
                    hooks={"response": [_drop_redirect_body]},
                )
            else:  # the adapter itself: Session.send would read a redirect's body whole
                prepared = self._session.prepare_request(
                    requests.Request(method, url, headers=dict(headers or {}), data=body)
                )
                answer = self._adapter.send(prepared, stream=True, timeout=timeouts)
        except requests.TooManyRedirects:
            WATCHDOG.finish(call)
            raise RequestFailed(f"more than {redirects} redirects") from None
        except _FAILURES as exc:
            WATCHDOG.finish(call)
            raise _failure(exc, call) from None
        finally:
            current_call(None)
        response = Response(answer, call)
        if call.expired:  # a head cut short by the watchdog may still have parsed
            response.close()
            raise RequestFailed(_timed_out(call))
        return response

    def close(self) -> None:
        self._session.close()


def _drop_redirect_body(answer: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A redirect about to be followed: its body is never kept (requests would read it
    whole into memory); a small one is read past, a large one costs its connection."""
    if answer.is_redirect:
        raw = answer.raw
        left = raw.length_remaining
        if left is not None and left <= DRAIN_BYTES:
            try:
                while raw.read1(DRAIN_BYTES, decode_content=False):
                    pass
            except _FAILURES:
                raw.close()
        else:
            raw.close()
        answer._content = b""  # what requests reads before it follows
        answer._content_consumed = True  # type: ignore[attr-defined]


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise RequestFailed(f"not a URL: {url[:200]!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise RequestFailed(f"not an http(s) URL: {url[:200]!r}")


# --- the reasons --------------------------------------------------------------------------

_E = TypeVar("_E", bound=BaseException)


def _causes(exc: BaseException) -> list[BaseException]:
    """exc and what it wraps (requests and urllib3 wrap the socket's or http.client's
    exception in one or two of their own), outermost first."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        inner = (current.__cause__, current.__context__, getattr(current, "reason", None))
        todo += [e for e in (*inner, *current.args) if isinstance(e, BaseException)]
    return found


def _timed_out(call: Call) -> str:
    phase = call.phase()
    if phase == "connect":
        return "connect timed out"
    if phase == "handshake":
        return "TLS handshake timed out"
    return "read timed out"


def _failure(exc: BaseException, call: Call) -> RequestFailed:
    """The RequestFailed (or BodyCut) to raise for what requests raised."""
    if call.expired:
        return RequestFailed(_timed_out(call))
    causes = _causes(exc)

    def first(kind: type[_E]) -> _E | None:
        return next((e for e in causes if isinstance(e, kind)), None)

    if bundle := first(BundleUnloadable):
        return RequestFailed(f"TLS error: the CA bundle does not load: {bundle}")
    if unverified := first(ssl.SSLCertVerificationError):
        return RequestFailed(f"TLS error: {unverified.verify_message}")
    if unresolved := first(socket.gaierror):
        return RequestFailed(_resolution_reason(unresolved))
    if first(ConnectionRefusedError):
        return RequestFailed("connection refused")
    if first(TimeoutError):
        return RequestFailed(_timed_out(call))
    if first(http.client.RemoteDisconnected):
        return RequestFailed("connection failed: closed without an answer")
    if too_long := first(http.client.LineTooLong):
        return RequestFailed(f"not HTTP: {too_long}")
    if bad := first(http.client.BadStatusLine):
        return RequestFailed(f"not HTTP: status line {str(bad).strip()[:60]!r}")
    if first(http.client.IncompleteRead):
        return BodyCut("connection broken, the body ended early")
    if tls := first(ssl.SSLError):
        return RequestFailed(f"TLS error: {str(tls).split(' (_ssl.c', 1)[0]}")
    if os_error := first(OSError):
        during = " during the handshake" if call.phase() == "handshake" else ""
        return RequestFailed(f"connection failed: {_os_text(os_error)}{during}")
    return RequestFailed(f"connection failed: {type(exc).__name__}: {str(exc)[:200]}")


def _os_text(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _resolution_reason(exc: socket.gaierror) -> str:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return "host name does not resolve"
    return f"connection failed: name resolution: {_os_text(exc)}"


def redact_url(url: str) -> str:
    """The URL without user:password, for readings, logs and labels."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
