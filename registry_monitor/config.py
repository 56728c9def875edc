"""The validated configuration shared by the exporter and the check command.

Every key is optional; the defaults describe the Toolforge registry pair
(DESIGN.md). Validation is msgspec's, key by key at the top level (so that
every wrong key is named at once): an unknown key or a wrong type stops
start-up with the file, the key path, what was expected and what was given.
msgspec rather than pydantic because check_registry loads this module on
every run: it imports in a few milliseconds, pydantic in about 100.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr, replace

DEFAULT_CONFIG_PATH = Path("/etc/registry-monitor/config.yaml")

PROBE_NAMES = ("disk", "services", "api", "cert", "write", "storage", "sync", "standby")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file and key."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value.rstrip("/")


def _host_port(value: str) -> str:
    _, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. 0.0.0.0:9623 or 127.0.0.1:443")
    return value


# Checks of a key's value beyond its type, by key; they may also normalise it.
_CHECKS = {
    "backend_url": _http_url,
    "public_url": _http_url,
    "active_exporter_url": _http_url,
    "public_connect": _host_port,
    "listen": _host_port,
}

Seconds = Annotated[float, Meta(gt=0)]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class Levels(_Strict, frozen=True):
    """A warning and a critical level; how they compare is the probe's to say."""

    warning: float
    critical: float


class Thresholds(_Strict, frozen=True):
    """Used by check_registry; alerts/ carries the same numbers."""

    disk_used_percent: Levels = Levels(warning=80, critical=90)
    disk_inodes_used_percent: Levels = Levels(warning=80, critical=90)
    cert_days_left: Levels = Levels(warning=21, critical=7)
    api_latency_seconds: Levels = Levels(warning=2, critical=5)
    standby_lag_seconds: Levels = Levels(warning=1800, critical=3600)
    sync_success_age_seconds: Levels = Levels(warning=1800, critical=3600)


class Intervals(_Strict, frozen=True):
    """Seconds between two runs of each probe in the exporter."""

    disk: Seconds = 15
    services: Seconds = 15
    api: Seconds = 30
    cert: Seconds = 300
    write: Seconds = 60
    storage: Seconds = 300
    sync: Seconds = 30
    standby: Seconds = 60


class Timeouts(_Strict, frozen=True):
    """Seconds a single run of each probe may take before it counts as failed."""

    disk: Seconds = 5
    services: Seconds = 5
    api: Seconds = 10
    cert: Seconds = 10
    write: Seconds = 10
    storage: Seconds = 240
    sync: Seconds = 5
    standby: Seconds = 30


def _default_node() -> str:
    import socket  # only when the config does not name the node

    return socket.gethostname()


class Config(_Strict, frozen=True):
    node: Annotated[str, Meta(min_length=1)] = field(default_factory=_default_node)
    role: Literal["active", "standby"] = "active"
    data_dir: Path = Path("/srv/registry")
    services: tuple[str, ...] = ("docker-registry.service", "nginx.service")
    sync_unit: str = "rsync-docker-registry-sync.service"
    systemctl: str = "systemctl"
    backend_url: str = "http://127.0.0.1:5000"
    public_url: str = "https://docker-registry.tools.wmflabs.org"
    # Where to connect for public_url instead of resolving its host (Host header,
    # SNI and certificate name stay public_url's). 127.0.0.1:443 checks this
    # host's own nginx, which a floating IP may not hairpin to.
    public_connect: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = Path("/etc/acmecerts/toolforge/live/ec-prime256v1.chained.crt")
    canary_images: tuple[str, ...] = ()
    write_probe: bool | None = None  # null: on for the active, off for the standby
    write_canary_repository: str = "registry-monitor-canary"
    active_exporter_url: str | None = None
    api_token: str | None = None
    state_dir: Path = Path("/var/lib/registry-monitor")
    registry_user: str | None = "docker-registry"
    listen: str = "0.0.0.0:9623"
    catalog_page_size: Annotated[int, Meta(ge=1, le=1000)] = 1000
    catalog_max_pages: Annotated[int, Meta(ge=1)] = 10000
    max_body_bytes: Annotated[int, Meta(ge=1024)] = 16 * 1024 * 1024
    # storage probe: uploads the registry's purger never removes; rolling checks' budgets
    stale_upload_seconds: Seconds = 7 * 86400
    verify_bytes_per_scan: Annotated[int, Meta(ge=0)] = 256 * 1024 * 1024
    owner_check_files_per_scan: Annotated[int, Meta(ge=0)] = 250_000
    # ...spread so that each blob is verified, each file's owner checked, once a period
    verify_period_seconds: Seconds = 86400
    owner_check_period_seconds: Seconds = 86400
    # standby probe: cap on the active's inventory, decompressed
    inventory_max_bytes: Annotated[int, Meta(ge=1024)] = 256 * 1024 * 1024
    thresholds: Thresholds = Thresholds()
    intervals: Intervals = Intervals()
    timeouts: Timeouts = Timeouts()

    def __post_init__(self) -> None:
        problems = []
        for key, check in _CHECKS.items():
            value = getattr(self, key)
            if value is None:
                continue
            try:
                force_setattr(self, key, check(value))
            except ValueError as exc:
                problems.append(f"{key}: {exc}{_shown(key, value)}")
        for name in PROBE_NAMES:
            timeout, interval = getattr(self.timeouts, name), getattr(self.intervals, name)
            if timeout > interval:
                problems.append(
                    f"timeouts.{name} ({timeout:g}s) is longer than intervals.{name} "
                    f"({interval:g}s): a run would still be going when the next is due"
                )
        if problems:
            raise ValueError("\n".join(problems))

    def replace(self, **changes: Any) -> Config:
        """A copy with some keys changed (and checked again)."""
        return replace(self, **changes)

    @property
    def write_enabled(self) -> bool:
        return self.role == "active" if self.write_probe is None else self.write_probe

    def probes_for_role(self) -> tuple[str, ...]:
        """The probes this node runs, in a stable order."""
        names = ["disk", "services", "api", "cert"]
        if self.write_enabled:
            names.append("write")
        names.append("storage")
        if self.role == "standby":
            names += ["sync", "standby"]
        return tuple(names)


_FIELDS: dict[str, Any] = typing.get_type_hints(Config, include_extras=True)
_GOT_TYPE = re.compile(r", got `[^`]*`$")  # said better by the value itself
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _shown(key: str, value: object) -> str:
    if "token" in key:
        return ""  # never echo a secret back into logs
    return f" (got {value!r})"


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
    if message.startswith("Object contains unknown field"):
        unknown = message.split("`")[1]
        return f"{path}.{unknown}: unknown key (not one this program reads; check its spelling)"
    if message.startswith("Object missing required field"):
        return f"{path}.{message.split('`')[1]}: required key missing"
    if message.startswith("Invalid enum value"):
        allowed = ", ".join(repr(a) for a in typing.get_args(_FIELDS[key]))
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
        try:
            values[key] = msgspec.convert(value, _FIELDS[key], dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            problems.append(_describe(key, value, exc))
    if not problems:
        try:
            return Config(**values)
        except ValueError as exc:
            problems.append(str(exc))
    raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))


def parse_yaml(text: str, source: str) -> object:
    """A YAML document, or ConfigError naming the file."""
    import yaml  # here, not above: check_registry mostly reuses the document it cached

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; None means all defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    return parse_config(parse_yaml(text, str(path)), str(path))
