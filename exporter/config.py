"""The validated configuration shared by the exporter and the check command.

Every key is optional; the defaults describe the Toolforge registry pair
(DESIGN.md). Validation is pydantic's: an unknown key or a wrong type stops
start-up with the file, the key path and what was expected.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

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


HttpUrl = Annotated[str, AfterValidator(_http_url)]
HostPort = Annotated[str, AfterValidator(_host_port)]
Seconds = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Levels(_Strict):
    """A warning and a critical level; how they compare is the probe's to say."""

    warning: float
    critical: float


class Thresholds(_Strict):
    """Used by check_registry; alerts/ carries the same numbers."""

    disk_used_percent: Levels = Levels(warning=80, critical=90)
    disk_inodes_used_percent: Levels = Levels(warning=80, critical=90)
    cert_days_left: Levels = Levels(warning=21, critical=7)
    api_latency_seconds: Levels = Levels(warning=2, critical=5)
    standby_lag_seconds: Levels = Levels(warning=1800, critical=3600)
    sync_success_age_seconds: Levels = Levels(warning=1800, critical=3600)


class Intervals(_Strict):
    """Seconds between two runs of each probe in the exporter."""

    disk: Seconds = 15
    services: Seconds = 15
    api: Seconds = 30
    cert: Seconds = 300
    write: Seconds = 60
    storage: Seconds = 300
    sync: Seconds = 30
    standby: Seconds = 60


class Timeouts(_Strict):
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
    return socket.gethostname()


class Config(_Strict):
    node: str = Field(default_factory=_default_node, min_length=1)
    role: Literal["active", "standby"] = "active"
    data_dir: Path = Path("/srv/registry")
    services: tuple[str, ...] = ("docker-registry.service", "nginx.service")
    sync_unit: str = "rsync-docker-registry-sync.service"
    systemctl: str = "systemctl"
    backend_url: HttpUrl = "http://127.0.0.1:5000"
    public_url: HttpUrl = "https://docker-registry.tools.wmflabs.org"
    # Where to connect for public_url instead of resolving its host (Host header,
    # SNI and certificate name stay public_url's). 127.0.0.1:443 checks this
    # host's own nginx, which a floating IP may not hairpin to.
    public_connect: HostPort | None = None
    ca_file: Path | None = None
    cert_file: Path | None = Path("/etc/acmecerts/toolforge/live/ec-prime256v1.chained.crt")
    canary_images: tuple[str, ...] = ()
    write_probe: bool | None = None  # null: on for the active, off for the standby
    write_canary_repository: str = "registry-monitor-canary"
    active_exporter_url: HttpUrl | None = None
    api_token: str | None = None
    state_dir: Path = Path("/var/lib/registry-monitor")
    registry_user: str | None = "docker-registry"
    listen: HostPort = "0.0.0.0:9623"
    catalog_page_size: int = Field(default=1000, ge=1, le=1000)
    catalog_max_pages: int = Field(default=10000, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # storage probe: uploads the registry's purger never removes; rolling checks' budgets
    stale_upload_seconds: Seconds = 7 * 86400
    verify_bytes_per_scan: int = Field(default=256 * 1024 * 1024, ge=0)
    owner_check_files_per_scan: int = Field(default=250_000, ge=0)
    # standby probe: cap on the active's inventory, decompressed
    inventory_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    thresholds: Thresholds = Thresholds()
    intervals: Intervals = Intervals()
    timeouts: Timeouts = Timeouts()

    @model_validator(mode="after")
    def _timeouts_fit_intervals(self) -> Config:
        for name in PROBE_NAMES:
            timeout, interval = getattr(self.timeouts, name), getattr(self.intervals, name)
            if timeout > interval:
                raise ValueError(
                    f"timeouts.{name} ({timeout:g}s) is longer than intervals.{name} "
                    f"({interval:g}s): a run would still be going when the next is due"
                )
        return self

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


def _describe(error: dict[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key (not one this program reads; check its spelling)"
    elif any("token" in str(part) for part in error["loc"]):
        pass  # never echo a secret back into logs
    elif error["type"] not in ("missing",) and "input" in error and error["loc"]:
        message += f" (got {error['input']!r})"
    return f"{path}: {message}"


def parse_config(data: object, source: str = "<config>") -> Config:
    """Validate an already-parsed YAML document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(dict(err)) for err in exc.errors()]
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines)) from None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; None means all defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))
