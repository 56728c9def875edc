"""HTTP for the probes, on the standard library's http.client and ssl.

Not requests: check_registry starts once a minute per probe, and importing
requests (urllib3 with importlib.metadata, logging, email, many regexes)
costs about three times the interpreter's floor; http.client and ssl cost a
fraction of that.

A `Client` serves one probe in one thread at a time. It holds the TLS
context, the pinned address and one keep-alive connection per host, so the
many requests of a run (the catalog walk, a pull's manifests and blobs) share
one TCP connection and one TLS handshake.

- The `timeout` of a request bounds the call as a whole: connect, TLS
  handshake, sending, the response head and the body, however slowly the
  server drips them (a socket time-out alone bounds each read, not the call).
- Bodies are streamed; `read_capped` cuts them at a size cap, so a server
  that drips or sends gigabytes costs one failed reading, not the exporter's
  memory or a hung thread.
- A pin connects to a fixed HOST:PORT for one host name while keeping that
  name's SNI, Host header and certificate check.
- Never retries; follows a redirect only when asked to (`redirects=N`);
  reads no proxy settings from the environment; asks for bodies as they are
  stored (`Accept-Encoding: identity`), so a digest is of the bytes sent.
- Every failure to get an answer is a `RequestFailed` whose text is a short
  reason for operators ("connection refused", "read timed out", ...).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import io
import select
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import unquote, urljoin, urlsplit

from registry_monitor import __version__
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.trust import trust_store

USER_AGENT = f"registry-monitor/{__version__}"
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
DRAIN_BYTES = 65536  # a body this small is read to its end on close, to keep the connection


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


def _left(end: float | None) -> float | None:
    """Seconds left of a call ending at monotonic `end` (None: unbounded)."""
    if end is None:
        return None
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's time is up")
    return left


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every read may only wait for what is left of the call."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, end: float | None) -> None:
        super().__init__()
        self.raw, self.sock, self.end = raw, sock, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self.sock.settimeout(_left(self.end))
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading its head and body through a _DeadlineReader."""

    def __init__(self, sock: socket.socket, *args: Any, end: float | None, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # the socket reader, not yet read from
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, end))


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


class _Connection(http.client.HTTPConnection):
    """One keep-alive connection to `address`; TLS verified as `server_name` when `tls`."""

    def __init__(
        self, address: tuple[str, int], tls: ssl.SSLContext | None, server_name: str
    ) -> None:
        super().__init__(address[0], address[1])
        self.tls, self.server_name = tls, server_name
        self.auto_open = 0  # connect() only when the client says so, within its deadline
        self.end: float | None = None  # the call in progress must be done by this time
        self.response: http.client.HTTPResponse | None = None  # the last one

    def connect(self) -> None:
        """Connect and shake hands by self.end; RequestFailed with the reason if not."""
        try:
            sock = socket.create_connection((self.host, self.port), _left(self.end))
        except (OSError, ValueError) as exc:
            raise RequestFailed(_connect_reason(exc)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock.settimeout(_left(self.end))
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_name)
        except TimeoutError:
            sock.close()
            raise RequestFailed("TLS handshake timed out") from None
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise RequestFailed(f"TLS error: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            sock.close()
            raise RequestFailed(f"TLS error: {_ssl_text(exc)}") from None
        except OSError as exc:
            sock.close()
            raise RequestFailed(f"TLS error: {_os_text(exc)} during the handshake") from None
        self.sock = sock

    def start(self, end: float | None) -> None:
        """Ready for a request ending at `end`: a fresh socket unless the idle one is sound."""
        self.end = end
        if self.response is not None and not _finish(self.response):
            self.response.close()  # its body was left unread: this connection cannot go on
            self.close()
        if self.sock is not None and _dropped(self.sock):
            self.close()  # the server closed it while idle (or sent what nobody asked)
        self.response = None
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(_left(end))  # for sending; each read sets its own
        # cast: http.client constructs response_class(sock, method=...); this one knows the end
        self.response_class = cast(
            "type[http.client.HTTPResponse]", functools.partial(_DeadlineResponse, end=end)
        )


def _finish(raw: http.client.HTTPResponse) -> bool:
    """Whether the response is read to its end, reading what is left of a small body
    (within its call's time) so that its connection can serve the next request."""
    if not raw.isclosed() and raw.length is not None and raw.length <= DRAIN_BYTES:
        try:
            raw.read()
        except (OSError, ValueError, http.client.HTTPException):
            return False
    return raw.isclosed()


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket has anything to read: the server's close, or junk."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _os_text(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _ssl_text(exc: ssl.SSLError) -> str:
    """`[SSL: WRONG_VERSION_NUMBER] wrong version number`, without the source line."""
    return str(exc).split(" (_ssl.c", 1)[0]


def _connect_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return "host name does not resolve"
        return f"connection failed: name resolution: {_os_text(exc)}"
    if isinstance(exc, OSError):
        return f"connection failed: {_os_text(exc)}"
    return f"connection failed: {exc}"


def _exchange_reason(exc: BaseException) -> str:
    """The reason for a failure after connecting: sending, the head or the body."""
    if isinstance(exc, TimeoutError):
        return "read timed out"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection failed: closed without an answer"
    if isinstance(exc, http.client.LineTooLong):
        return f"not HTTP: {exc}"
    if isinstance(exc, http.client.BadStatusLine):
        return f"not HTTP: status line {str(exc).strip()[:60]!r}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {_ssl_text(exc)}"
    if isinstance(exc, OSError):
        return f"connection failed: {_os_text(exc)}"
    return f"connection failed: {type(exc).__name__}: {str(exc)[:200]}"


class Response(_ClosedOnExit):
    """Status and headers of an answer; its body is read on demand, within the call's time.

    Closing it reads the rest of a small body (so the connection serves the next
    request) or closes the connection.
    """

    def __init__(self, raw: http.client.HTTPResponse, connection: _Connection, url: str) -> None:
        self._raw, self._connection = raw, connection
        self.status = raw.status
        self.headers = raw.headers  # case-insensitive: headers.get("content-length")
        self.url = url  # after any redirects

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body; b"" at its end. RequestFailed if it fails."""
        try:
            data = self._raw.read(amount)
        except http.client.IncompleteRead:
            self.close()
            raise BodyCut("connection broken, the body ended early") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            self.close()
            raise RequestFailed(_exchange_reason(exc)) from None
        if not data and amount and self._raw.length:  # http.client says b"" here
            self.close()
            raise BodyCut("connection broken, the body ended early")
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
        if not _finish(self._raw):
            self._raw.close()
            if self._connection.response is self._raw:  # not yet serving another request
                self._connection.close()


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
        self._connections: dict[tuple[str, str, int], _Connection] = {}

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
        origin; 303, and 301/302 to a POST, turn into a GET).
        """
        end = None if timeout is None else time.monotonic() + timeout
        sent = dict(headers or {})
        for hop in range(redirects + 1):
            response = self._exchange(method, url, sent, body, end)
            location = response.headers.get("Location")
            if not redirects or response.status not in REDIRECT_CODES or not location:
                return response
            response.close()
            if hop == redirects:
                raise RequestFailed(f"more than {redirects} redirects")
            target = urljoin(url, location)
            if _origin(target) != _origin(url):
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if method != "HEAD" and (
                response.status == 303 or (response.status in (301, 302) and method == "POST")
            ):
                method, body = "GET", None
            url = target
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _connection(self, scheme: str, host: str, port: int) -> _Connection:
        key = (scheme, host.lower(), port)
        connection = self._connections.get(key)
        if connection is None:
            address = (host, port)
            if self.pin is not None and host.lower() == self.pin[0]:
                address = self.pin[1]
            try:
                tls = tls_context(self.ca_file) if scheme == "https" else None
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise RequestFailed(f"TLS error: the CA bundle does not load: {exc}") from None
            connection = self._connections[key] = _Connection(address, tls, host)
        return connection

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        end: float | None,
    ) -> Response:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise RequestFailed(f"not a URL: {url[:200]!r}") from None
        if parts.scheme not in ("http", "https") or not host:
            raise RequestFailed(f"not an http(s) URL: {url[:200]!r}")
        connection = self._connection(parts.scheme, host, port or _default_port(parts.scheme))
        sent = {
            "Host": parts.netloc.rpartition("@")[2],
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "identity",
        }
        if parts.username is not None:  # user:password@ in the URL, as curl and requests take it
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            sent["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        sent.update(headers)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            connection.start(end)
            # the server may have answered before it closed (a 413, a 401): read that
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.request(method, target, body, sent)
            raw = connection.getresponse()
        except RequestFailed:
            connection.close()
            raise
        except (OSError, ValueError, http.client.HTTPException) as exc:
            connection.close()
            raise RequestFailed(_exchange_reason(exc)) from None
        connection.response = raw
        return Response(raw, connection, url)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or _default_port(parts.scheme)


def redact_url(url: str) -> str:
    """The URL without user:password, for readings, logs and labels."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
