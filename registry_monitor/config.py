"""The validated configuration shared by the exporter and the check command.

Every key is optional; the defaults describe the Toolforge registry pair
(DESIGN.md). Validation is msgspec's, key by key at the top level (so that
every wrong key is named at once): an unknown key or a wrong type stops
start-up with the file, the key path, what was expected and what was given.
msgspec rather than pydantic because check_registry loads this module on
every run: it imports in a few milliseconds, pydantic in about 100.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta, field
from msgspec.structs import force_setattr, replace

from registry_monitor import probe_catalog
from registry_monitor.config_file import MAX_CONFIG_BYTES, ConfigFileError, read_config_bytes
from registry_monitor.probe_catalog import Role

__all__ = ["MAX_CONFIG_BYTES", "Config", "ConfigError", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path("/etc/registry-monitor/config.yaml")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file and key."""


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


# Checks of a key's value beyond its type, by key; they may also normalise it.
_CHECKS: dict[str, Callable[[Any], object]] = {
    "backend_url": _http_url,
    "public_url": _http_url,
    "active_exporter_url": _http_url,
    "public_connect": _host_port,
    "listen": _host_port,
    "public_addresses": _addresses,
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
    # A level is reached when both the days and this share of the lifetime are
    # passed: 90-day certificates keep the days above, shorter-lived ones are
    # judged later in days (a 45-day one warns at 11 days left, not 21).
    cert_lifetime_left_ratio: Levels = Levels(warning=0.25, critical=0.1)
    api_latency_seconds: Levels = Levels(warning=2, critical=5)
    standby_lag_seconds: Levels = Levels(warning=1800, critical=3600)
    sync_success_age_seconds: Levels = Levels(warning=1800, critical=3600)


class _PerProbe(_Strict, frozen=True):
    """Seconds per probe: one field per probe of the catalog, its default from there."""

    def of(self, probe: str) -> float:
        seconds: float = getattr(self, probe)
        return seconds


def _per_probe(name: str, default: str, doc: str) -> type[_PerProbe]:
    """A struct with a field per probe, its default the catalog's `default` attribute."""
    fields = [(spec.name, Seconds, getattr(spec, default)) for spec in probe_catalog.PROBES]
    struct = msgspec.defstruct(
        name,
        fields,
        bases=(_PerProbe,),
        module=__name__,
        namespace={"__doc__": doc},
        forbid_unknown_fields=True,
        frozen=True,
        kw_only=True,
    )
    return cast(type[_PerProbe], struct)


if TYPE_CHECKING:  # built at run time from the catalog; to the type checker, any _PerProbe
    Intervals = _PerProbe
    Timeouts = _PerProbe
else:
    Intervals = _per_probe(
        "Intervals", "interval", "Seconds between two runs of each probe in the exporter."
    )
    Timeouts = _per_probe(
        "Timeouts",
        "timeout",
        "Seconds a single run of each probe may take before it counts as failed.",
    )


class AccessLog(_Strict, frozen=True):
    """nginx's access log, followed by the traffic probe (docs/traffic.md)."""

    path: Path
    # combined: nginx's default; registry_monitor: adds durations and upstream figures
    format: Literal["combined", "registry_monitor"] = "combined"
    # check_registry traffic: 5xx share of requests in percent, p95 of manifest reads
    error_percent: Levels = Levels(warning=1, critical=5)
    manifest_p95_seconds: Levels = Levels(warning=2, critical=5)


def _default_node() -> str:
    import socket  # only when the config does not name the node

    return socket.gethostname()


class Config(_Strict, frozen=True):
    node: Annotated[str, Meta(min_length=1)] = field(default_factory=_default_node)
    role: Role = "active"
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
    # The addresses under which this node serves public_url's name (its floating IP):
    # the node cannot see a floating IP on its interfaces, so it is told. null: unknown,
    # and where the name points is not judged.
    public_addresses: tuple[str, ...] | None = None
    ca_file: Path | None = None
    cert_file: Path | None = Path("/etc/acmecerts/toolforge/live/ec-prime256v1.chained.crt")
    # nginx's private key for cert_file (root-only on a real host: see docs/configuration.md)
    cert_key_file: Path | None = None
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
    # traffic probe: null = off (the exporter's user needs read access to the log)
    access_log: AccessLog | None = None
    # pull probe: bytes read per run over every canary image (manifests and blobs)
    pull_max_bytes_per_run: Annotated[int, Meta(ge=1024)] = 256 * 1024 * 1024
    # parity probe: files whose sha256 must be the same on both nodes (name -> path), lines
    # of them left out on purpose (name -> regular expressions), the registry's binary
    parity_files: dict[str, Path] = field(
        default_factory=lambda: {
            "registry_config": Path("/etc/docker/registry/config.yml"),
            "nginx_site": Path("/etc/nginx/sites-enabled/registry"),
            "htpasswd": Path("/etc/nginx/registry.htpasswd"),
        }
    )
    parity_ignore_lines: dict[str, tuple[str, ...]] = field(default_factory=dict)
    registry_binary: str = "/usr/bin/docker-registry"
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
        for name in probe_catalog.NAMES:
            timeout, interval = self.timeouts.of(name), self.intervals.of(name)
            if timeout > interval:
                problems.append(
                    f"timeouts.{name} ({timeout:g}s) is longer than intervals.{name} "
                    f"({interval:g}s): a run would still be going when the next is due"
                )
        for name, patterns in self.parity_ignore_lines.items():
            if name not in self.parity_files:
                problems.append(
                    f"parity_ignore_lines.{name}: not a file named in parity_files "
                    f"({', '.join(self.parity_files) or 'none'})"
                )
            for i, pattern in enumerate(patterns):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(
                        f"parity_ignore_lines.{name}[{i}]: not a regular expression: {exc} "
                        f"(got {pattern!r})"
                    )
        if problems:
            raise ValueError("\n".join(problems))

    def replace(self, **changes: Any) -> Config:
        """A copy with some keys changed (and checked again)."""
        return replace(self, **changes)

    def runs(self, probe: str) -> bool:
        """Whether this node runs the probe: its switch when set, else its roles."""
        spec = probe_catalog.spec(probe)
        if spec.needs is not None and getattr(self, spec.needs.key) is None:
            return False
        if spec.switch is not None:
            switched: bool | None = getattr(self, spec.switch.key)
            if switched is not None:
                return switched
        return self.role in spec.roles

    def probes_for_role(self) -> tuple[str, ...]:
        """The probes this node runs, in the catalog's order."""
        return tuple(name for name in probe_catalog.NAMES if self.runs(name))


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


def _field_type(key: str, where: str) -> Any:
    """The type of the key that msgspec's `$.a.b` path points to, through nested structs."""
    kind = _FIELDS[key]
    for name, _ in _PATH_PART.findall(where):
        structs = [k for k in (kind, *typing.get_args(kind)) if isinstance(k, type)]
        struct = next((k for k in structs if issubclass(k, msgspec.Struct)), None)
        if not name or struct is None:
            break
        kind = typing.get_type_hints(struct).get(name, kind)
    return kind


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


def read_bytes(path: Path) -> bytes:
    """The config file's bytes (a regular file, within MAX_CONFIG_BYTES), or ConfigError."""
    try:
        return read_config_bytes(path)
    except ConfigFileError as exc:
        raise ConfigError(f"{path}: cannot use config file: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None


def parse_document(data: bytes, path: Path) -> object:
    """The YAML document in a config file's bytes, within bounds, or ConfigError."""
    import yaml  # here, not above: check_registry mostly reuses the document it cached

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


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; None means all defaults."""
    if path is None:
        return Config()
    return parse_file_document(parse_document(read_bytes(path), path), path)
