"""HTTP for the probes: one verified session, capped bodies, optional pinned address.

The `timeout` given to a request through these sessions bounds the call as a
whole: connect, sending, the response head and the body, however slowly the
server drips them (requests' own time-out bounds each socket read). Bodies
are streamed and cut at a size cap: a server that drips or sends gigabytes
costs one failed reading, not the exporter's memory or a hung thread.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from registry_monitor import __version__
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.trust import trust_store

USER_AGENT = f"registry-monitor/{__version__}"


# The monotonic time the request being sent in this thread must be done by.
_call = threading.local()


def _left(end: float) -> float:
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's time is up")
    return left


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every read may only wait for what is left of the call."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, end: float) -> None:
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

    def __init__(self, sock: socket.socket, *args: Any, end: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # the socket reader, not yet read from
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, end))


class _WholeCallMixin:
    """For urllib3's connections: connect, send and read within the call's end time."""

    timeout: Any
    sock: socket.socket | None
    response_class: Any
    _end: float | None = None

    def connect(self) -> None:
        end = getattr(_call, "end", None)
        if end is not None:
            self.timeout = _left(end)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._end = getattr(_call, "end", None)
        if self._end is not None:
            self.timeout = _left(self._end)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        if self._end is None:
            self.response_class = http.client.HTTPResponse
        else:
            self.timeout = _left(self._end)
            self.response_class = partial(_DeadlineResponse, end=self._end)
        return super().getresponse()  # type: ignore[misc]


class _Connection(_WholeCallMixin, HTTPConnection):
    pass


class _TLSConnection(_WholeCallMixin, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class WholeCallAdapter(HTTPAdapter):
    """Never retries; a request's `timeout` is the time for the whole call (see above)."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        timeout = kwargs.get("timeout")
        if isinstance(timeout, tuple):
            timeout = max((t for t in timeout if t is not None), default=None)
        _call.end = None if timeout is None else time.monotonic() + float(timeout)
        try:
            return super().send(request, *args, **kwargs)
        finally:
            _call.end = None


class PinnedAddressAdapter(WholeCallAdapter):
    """Connects to a fixed HOST:PORT for one host name, keeping its SNI, Host and cert check.

    Lets the probe test this machine's own nginx under the public name when
    DNS (a floating IP) would lead elsewhere or not hairpin back.
    """

    def __init__(self, name: str, address: str) -> None:
        super().__init__()
        self.name = name.lower()
        host, _, port = address.rpartition(":")
        self.address = (host.strip("[]"), int(port))

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        params: dict[str, Any] = dict(host_params)
        kwargs: dict[str, Any] = dict(pool_kwargs)
        if (params.get("host") or "").lower() == self.name:
            params["host"], params["port"] = self.address
            kwargs["server_hostname"] = self.name
            kwargs["assert_hostname"] = self.name
        return params, kwargs

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        # urllib3 would send the pinned address as Host; the registry and nginx need the name.
        parts = urlsplit(request.url or "")
        if (parts.hostname or "").lower() == self.name:
            request.headers["Host"] = parts.netloc


def make_session(ca_file: Path | None, pin: tuple[str, str] | None = None) -> requests.Session:
    """A session that never retries, never reads proxies from the environment."""
    session = requests.Session()
    session.trust_env = False
    session.verify = trust_store(ca_file)
    session.headers["User-Agent"] = USER_AGENT
    plain = WholeCallAdapter()
    session.mount("http://", plain)
    session.mount("https://", plain)
    if pin is not None:
        name, address = pin
        adapter = PinnedAddressAdapter(name, address)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def read_capped(response: requests.Response, limit: int, deadline: Deadline) -> bytes:
    """The response body, or ProbeFailed if it is larger than limit or outlasts the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ProbeFailed(f"response body of {int(declared)} bytes exceeds the {limit} byte cap")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=65536):
        total += len(chunk)
        if total > limit:
            response.close()
            raise ProbeFailed(f"response body exceeds the {limit} byte cap")
        if deadline.expired():
            response.close()
            raise ProbeFailed("response body still arriving at the probe's deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def redact_url(url: str) -> str:
    """The URL without user:password, for readings, logs and labels."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def describe_error(exc: requests.RequestException) -> str:
    """A short, operator-readable cause for a failed request."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        for marker in ("certificate verify failed:", "SSLError("):
            if marker in text:
                detail = text.split(marker, 1)[1].split("(_ssl", 1)[0].strip(" '\")")
                return f"TLS error: {detail}"
        return "TLS error: " + text[:200]
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
        exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError
    ):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name does not resolve"
        return "connection failed: " + text[:200]
    return f"{type(exc).__name__}: {text[:200]}"
