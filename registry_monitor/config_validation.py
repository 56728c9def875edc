"""Validating a parsed config document against config.py's types, with msgspec.

Validation is key by key at the top level (so that every wrong key is named
at once): an unknown key or a wrong type stops start-up with the file, the
key path, what was expected and what was given. msgspec rather than pydantic:
it imports in a few milliseconds where pydantic takes about 100. This module
is loaded only by a run that validates; check_registry mostly reuses the
Config it validated before (checks/config_file.py).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import reprlib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from registry_monitor import config as _config
from registry_monitor import probe_catalog
from registry_monitor.config import Config, ConfigError
from registry_monitor.config_file import ConfigFileError

# config.py's annotations name msgspec's Meta without importing msgspec (see its
# docstring); they are evaluated only here, in config.py's namespace.
vars(_config).setdefault("Meta", msgspec.Meta)


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


def problems_of(config: Config) -> list[str]:
    """What is wrong with a Config beyond its types (normalising some values in place)."""
    problems = []
    for key, check in _CHECKS.items():
        value = getattr(config, key)
        if value is None:
            continue
        try:
            object.__setattr__(config, key, check(value))  # frozen: set once, while built
        except ValueError as exc:
            problems.append(f"{key}: {exc}{_shown(key, value)}")
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
            f"sync_guard.source: expected an rsync:// URL with a host{_shown('source', source)}"
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
    return problems


MAX_PROBLEMS_SHOWN = 10
_FIELDS: dict[str, Any] = typing.get_type_hints(Config, include_extras=True)
_GOT_TYPE = re.compile(r", got `[^`]*`$")  # said better by the value itself
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]*@")
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 3


def _short(text: object, limit: int = 120) -> str:
    """text on one line, at most limit characters, with user:password@ in URLs hidden."""
    flat = _USERINFO.sub("***@", " ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _shown(key: str, value: object) -> str:
    if "token" in key:
        return ""  # never echo a secret back into logs
    return f" (got {_short(_REPR.repr(value))})"


def _dataclass_in(kind: Any) -> type | None:
    """The dataclass a field's type is, or is one of (`AccessLog | None`), if any."""
    for k in (kind, *typing.get_args(kind)):
        if isinstance(k, type) and dataclasses.is_dataclass(k):
            return k
    return None


def _field_type(key: str, where: str) -> Any:
    """The type of the key that msgspec's `$.a.b` path points to, through nested types."""
    kind = _FIELDS[key]
    for name, _ in _PATH_PART.findall(where):
        struct = _dataclass_in(kind)
        if not name or struct is None:
            break
        kind = typing.get_type_hints(struct, include_extras=True).get(name, kind)
    return kind


def _unknown_key(kind: Any, value: object, path: str) -> str | None:
    """The first key of a nested mapping its dataclass does not have, as a problem line.

    msgspec refuses unknown fields only in its own Structs; the types are dataclasses.
    """
    struct = _dataclass_in(kind)
    if struct is None or not isinstance(value, dict):
        return None
    hints = typing.get_type_hints(struct, include_extras=True)
    for name, inner in value.items():
        if name not in hints:
            return f"{path}.{name}: unknown key (not one this program reads; check its spelling)"
        found = _unknown_key(hints[name], inner, f"{path}.{name}")
        if found is not None:
            return found
    return None


def _given(value: object, path: str) -> object:
    """The part of a key's value that msgspec's `$.a[0]` path points to, if found."""
    for name, index in _PATH_PART.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def _describe(key: str, value: object, error: msgspec.ValidationError) -> str:
    message, _, where = str(error).partition(" - at `$")
    where = where.rstrip("`")
    path = key + where
    if message.startswith("Object missing required field"):
        return f"{path}.{message.split('`')[1]}: required key missing"
    if message.startswith("Invalid enum value"):
        allowed = ", ".join(repr(a) for a in typing.get_args(_field_type(key, where)))
        message = f"expected one of {allowed}"
    given = _given(value, where)
    if given is None:
        return f"{path}: {message}"
    return f"{path}: {_GOT_TYPE.sub('', message)}{_shown(path, given)}"


def _dec_hook(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise TypeError("Expected a path (a string)" if kind is Path else f"Expected {kind}")


def parse_config(data: object, source: str = "<config>") -> Config:
    """Validate an already-parsed YAML document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key not in _FIELDS:
            problems.append(f"{key}: unknown key (not one this program reads; check its spelling)")
            continue
        unknown = _unknown_key(_FIELDS[key], value, str(key))
        if unknown is not None:
            problems.append(unknown)
            continue
        try:
            values[key] = msgspec.convert(value, _FIELDS[key], dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            problems.append(_describe(key, value, exc))
    if not problems:
        try:
            return Config(**values)
        except ValueError as exc:
            problems.append(str(exc))
    if len(problems) > MAX_PROBLEMS_SHOWN:
        hidden = len(problems) - MAX_PROBLEMS_SHOWN
        problems[MAX_PROBLEMS_SHOWN:] = [f"... and {hidden} more"]
    raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))


def parse_document(data: bytes, path: Path) -> object:
    """The YAML document in a config file's bytes, within bounds, or ConfigError."""
    import yaml  # here, not above: a run that only validates needs no YAML

    from registry_monitor.config_yaml import parse_yaml

    try:
        return parse_yaml(data)
    except ConfigFileError as exc:
        raise ConfigError(f"{path}: cannot use config file: {exc}") from None
    except yaml.MarkedYAMLError as exc:  # its str() quotes the offending line, of any length
        what = ": ".join(str(p) for p in (exc.context, exc.problem) if p) or type(exc).__name__
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise ConfigError(f"{path}: not valid YAML: {_short(what)}{where}") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a 5,000-digit number
        raise ConfigError(f"{path}: not valid YAML: {_short(exc)}") from None


def parse_file_document(document: object, path: Path) -> Config:
    """Validate a config file's parsed document, naming the file."""
    try:
        return parse_config(document, str(path))
    except RecursionError:  # msgspec on a value nested past Python's limit
        raise ConfigError(f"{path}: cannot use config file: nested too deeply") from None
