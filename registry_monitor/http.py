"""HTTP for the probes: one verified session, capped bodies, optional pinned address.

Bodies are streamed and cut at a size cap, and the whole read is held to the
probe's deadline: a server that drips or sends gigabytes costs one failed
reading, not the exporter's memory or a hung thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from registry_monitor import __version__
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.trust import trust_store

USER_AGENT = f"registry-monitor/{__version__}"


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to a fixed HOST:PORT for one host name, keeping its SNI, Host and cert check.

    Lets the probe test this machine's own nginx under the public name when
    DNS (a floating IP) would lead elsewhere or not hairpin back.
    """

    def __init__(self, name: str, address: str) -> None:
        super().__init__(max_retries=0)
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
    plain = HTTPAdapter(max_retries=0)
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
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name does not resolve"
        return "connection failed: " + text[:200]
    return f"{type(exc).__name__}: {text[:200]}"
