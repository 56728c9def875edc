"""What is wrong with a Config beyond its types: values of a key, and keys against each other.

Run by Config itself when it is built (Config.__new__), so a Config made in
code is held to the same rules as one read from a file; needs no msgspec.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from registry_monitor import probe_catalog

if TYPE_CHECKING:
    from registry_monitor.config import Config


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value.rstrip("/")


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    for address in value:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
    return value


def _host_port(value: str) -> str:
    _, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 0.0.0.0:9623 or 127.0.0.1:443")
    return value


MIN_TOKEN_LENGTH = 16


def _token(value: str) -> str:
    """A secret that keys /api/parity's digests and guards /api/*: not the example's
    placeholder, not short enough to guess, and sendable as a bearer token."""
    if "CHANGE-ME" in value:
        raise ValueError("still the example's placeholder: set a long random secret")
    if len(value) < MIN_TOKEN_LENGTH:
        raise ValueError(f"shorter than {MIN_TOKEN_LENGTH} characters: set a long random secret")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("holds spaces or control characters: no client can send it")
    return value


# Checks of a key's value beyond its type, by key; they may also normalise it.
_CHECKS: dict[str, Callable[[Any], object]] = {
    "backend_url": _http_url,
    "public_url": _http_url,
    "active_exporter_url": _http_url,
    "public_connect": _host_port,
    "listen": _host_port,
    "public_addresses": _addresses,
    "api_token": _token,
}


def problems_of(config: Config) -> tuple[dict[str, Any], list[str]]:
    """What is wrong with a Config beyond its types, and the values its checks normalise
    (key -> value, for the Config to be built with)."""
    normalised: dict[str, Any] = {}
    problems = []
    for key, check in _CHECKS.items():
        value = getattr(config, key)
        if value is None:
            continue
        try:
            checked = check(value)
        except ValueError as exc:
            problems.append(f"{key}: {exc}{shown(key, value)}")
            continue
        if checked != value:
            normalised[key] = checked
    for name in probe_catalog.NAMES:
        timeout, interval = config.timeouts.of(name), config.intervals.of(name)
        if timeout > interval and not probe_catalog.spec(name).quick_runs:
            problems.append(
                f"timeouts.{name} ({timeout:g}s) is longer than intervals.{name} "
                f"({interval:g}s): a run would still be going when the next is due"
            )
    source = config.sync_guard.source
    if source is not None and not (source.startswith("rsync://") and urlsplit(source).hostname):
        problems.append(
            f"sync_guard.source: expected an rsync:// URL with a host{shown('source', source)}"
        )
    access = config.access_log
    if access is not None and access.durations == "access_log" and access.format == "combined":
        problems.append(
            "access_log.durations: access_log needs access_log.format registry_monitor "
            "(the combined format has no durations); use journal or none"
        )
    if access is not None and not access.journal_unit.strip():
        problems.append(
            "access_log.journal_unit: empty (the registry's unit, e.g. docker-registry.service)"
        )
    for name, patterns in config.parity_ignore_lines.items():
        if name not in config.parity_files:
            problems.append(
                f"parity_ignore_lines.{name}: not a file named in parity_files "
                f"({', '.join(config.parity_files) or 'none'})"
            )
        for i, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(
                    f"parity_ignore_lines.{name}[{i}]: not a regular expression: {exc} "
                    f"(got {pattern!r})"
                )
    return normalised, problems


_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]*@")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 3


def short(text: object, limit: int = 120) -> str:
    """text on one line, at most limit characters, with user:password@ in URLs hidden."""
    flat = _USERINFO.sub("***@", " ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def shown(key: str, value: object) -> str:
    if "token" in key:
        return ""  # never echo a secret back into logs
    return f" (got {short(_REPR.repr(value))})"
