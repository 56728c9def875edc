"""The configuration shared by the exporter and the check command: its types.

Every key is optional; the defaults describe the Toolforge registry pair
(DESIGN.md). The types are NamedTuples: check_registry defines them on every
start, where a dataclass compiles its generated methods with exec and needs
the dataclasses module (inspect, ast, dis: together about half the floor of
a local check, bench/README.md). Validating a parsed document against them is
msgspec's, in config/validation.py, loaded only by a run that validates.
check_registry mostly reuses the Config it validated on an earlier run
(checks/config_cache.py), and msgspec costs about 30 ms to import, as much as
the rest of a disk check. So the constraints below are written in msgspec's
terms (`Meta`) inside annotations that stay strings until config/validation.py
reads them.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from registry_monitor import probe_catalog
from registry_monitor.config.file_bounds import MAX_CONFIG_BYTES
from registry_monitor.probe_catalog import Role


def Meta(**constraints: Any) -> Any:
    """msgspec.Meta, imported only when validation evaluates the annotations below.

    The annotations stay strings (PEP 563) until config/validation.py asks msgspec to
    validate, and a run that reuses a cached Config never imports msgspec.
    """
    import msgspec

    return msgspec.Meta(**constraints)


__all__ = ["MAX_CONFIG_BYTES", "Config", "ConfigError"]

DEFAULT_CONFIG_PATH = Path("/etc/registry-monitor/config.yaml")

# Evaluated by config/validation.py, where Meta(...) becomes msgspec's.
SECONDS = "Annotated[float, Meta(gt=0)]"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file and key."""


class Levels(NamedTuple):
    """A warning and a critical level; how they compare is the probe's to say."""

    warning: float
    critical: float


class Thresholds(NamedTuple):
    """The one place of these levels: check_registry and the status page judge by them.

    alerts/thresholds.yaml (the alert rules' constants) and the dashboards' colours are
    written from these defaults by `make generated`, and a test fails while either is
    stale; `python3 -m alerts.configure --config` writes a deployment's rules from its own.
    """

    # used share of the data filesystem, as df shows it: used / (used + avail)
    disk_used_percent: Levels = Levels(warning=80, critical=90)
    disk_inodes_used_percent: Levels = Levels(warning=80, critical=90)
    cert_days_left: Levels = Levels(warning=21, critical=7)  # before notAfter
    # A level is reached when both the days and this share of the lifetime are
    # passed: 90-day certificates keep the days above, shorter-lived ones are
    # judged later in days (a 45-day one warns at 11 days left, not 21).
    cert_lifetime_left_ratio: Levels = Levels(warning=0.25, critical=0.1)
    api_latency_seconds: Levels = Levels(warning=2, critical=5)  # of GET /v2/
    # the standby's recovery point: three missed 10-minute syncs, then six
    standby_lag_seconds: Levels = Levels(warning=1800, critical=3600)
    sync_success_age_seconds: Levels = Levels(warning=1800, critical=3600)


class _PerProbe:
    """Seconds per probe: one field per probe of the catalog, its default from there."""

    __slots__ = ()

    def of(self, probe: str) -> float:
        seconds: float = getattr(self, probe)
        return seconds


def _per_probe(name: str, default: str, doc: str) -> type[_PerProbe]:
    """A NamedTuple with a field per probe, its default the catalog's `default` attribute."""
    specs = probe_catalog.PROBES
    fields = collections.namedtuple(  # type: ignore[misc]  # fields from the catalog
        f"_{name}Fields",
        [spec.name for spec in specs],
        defaults=[getattr(spec, default) for spec in specs],  # type: ignore[misc]
        module=__name__,
    )
    namespace = {
        "__slots__": (),
        "__doc__": doc,
        "__module__": __name__,
        # what config/validation.py validates each field against
        "__annotations__": {spec.name: SECONDS for spec in specs},
    }
    cls: type[_PerProbe] = type(name, (fields, _PerProbe), namespace)
    return cls


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


class AccessLog(NamedTuple):
    """nginx's access log, followed by the traffic probe (docs/traffic.md)."""

    path: Path
    # combined: nginx's default; registry_monitor: adds durations and upstream figures
    format: Literal["combined", "registry_monitor"] = "combined"
    # where request durations come from: journal (the registry's own request log,
    # docker-registry's `response completed` entries), access_log (registry_monitor
    # format only), none; auto: access_log with registry_monitor, else journal
    durations: Literal["auto", "journal", "access_log", "none"] = "auto"
    # the registry's unit, whose journal entries durations come from
    journal_unit: str = "docker-registry.service"
    # check_registry traffic: 5xx share of requests in percent, p95 of manifest reads
    error_percent: Levels = Levels(warning=1, critical=5)
    manifest_p95_seconds: Levels = Levels(warning=2, critical=5)

    @property
    def duration_source(self) -> Literal["journal", "access_log", "none"]:
        if self.durations != "auto":
            return self.durations
        return "access_log" if self.format == "registry_monitor" else "journal"


# The units each role runs, as puppet's registry profile declares them
# (modules/profile/manifests/toolforge/docker/registry.pp): docker-registry and nginx on
# both; on the active, rsync::quickdatacopy's source side includes rsync::server, the
# rsync daemon the standby pulls from (modules/rsync/manifests/quickdatacopy.pp).
ROLE_SERVICES: dict[str, tuple[str, ...]] = {
    "active": ("docker-registry.service", "nginx.service", "rsync.service"),
    "standby": ("docker-registry.service", "nginx.service"),
}


class SyncGuard(NamedTuple):
    """`check_registry sync-guard`, run by the sync unit before rsync (docs/sync-guard.md)."""

    # refuse a run that deletes more than this share of this node's tags or blobs
    max_delete_percent: Annotated[float, Meta(ge=0, le=100)] = 5
    # what to do when something could not be measured: allow (a dead exporter must not
    # stop syncs) or refuse
    when_unknown: Literal["allow", "refuse"] = "allow"
    # the sync's source, as the unit pulls it; null: rsync://<active_exporter_url's
    # host>/docker-registry-sync/ (puppet's rsync::quickdatacopy module)
    source: str | None = None
    timeout_seconds: Annotated[float, Meta(gt=0)] = 300


def _default_node() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket


# parity_files' default, copied into each Config that does not set it
PARITY_FILES: dict[str, Path] = {
    "registry_config": Path("/etc/docker/registry/config.yml"),
    "nginx_site": Path("/etc/nginx/sites-enabled/registry"),
    "htpasswd": Path("/etc/nginx/htpasswd.registry"),
}


class _ConfigFields(NamedTuple):
    """Config's keys, their types and defaults; Config adds the checks and methods."""

    # "" or left out: this host's name, filled in when a Config is built (Config.__new__);
    # a config file that names the key must give a name
    node: Annotated[str, Meta(min_length=1)] = ""
    role: Role = "active"
    data_dir: Path = Path("/srv/registry")
    # data_dir on a mounted volume, not the root filesystem (config/mount_rule.py); null: on for
    # the Toolforge layout (data_dir /srv/registry), off for any other data_dir
    data_dir_must_be_mount: bool | None = None
    # null: the role's (ROLE_SERVICES); the active also serves the standby's rsync module
    services: tuple[str, ...] | None = None
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
    stale_upload_seconds: Annotated[float, Meta(gt=0)] = 7 * 86400
    # runs between these only look for pushes (intervals.storage); these also re-list a
    # slice of the tree and run the rolling checks
    storage_full_scan_seconds: Annotated[float, Meta(gt=0)] = 300
    verify_bytes_per_scan: Annotated[int, Meta(ge=0)] = 256 * 1024 * 1024
    owner_check_files_per_scan: Annotated[int, Meta(ge=0)] = 250_000
    # ...spread so that each blob is verified, each file's owner checked, once a period
    verify_period_seconds: Annotated[float, Meta(gt=0)] = 86400
    owner_check_period_seconds: Annotated[float, Meta(gt=0)] = 86400
    # standby probe: cap on the active's inventory, decompressed
    inventory_max_bytes: Annotated[int, Meta(ge=1024)] = 256 * 1024 * 1024
    # traffic probe: null = off (the exporter's user needs read access to the log)
    access_log: AccessLog | None = None
    # pull probe: bytes read per run over every canary image (manifests and blobs)
    pull_max_bytes_per_run: Annotated[int, Meta(ge=1024)] = 256 * 1024 * 1024
    # parity probe: files whose sha256 must be the same on both nodes (name -> path), lines
    # of them left out on purpose (name -> regular expressions), the registry's binary
    # (a Config built without these keys gets its own copy of their defaults)
    parity_files: dict[str, Path] = PARITY_FILES
    parity_ignore_lines: dict[str, tuple[str, ...]] = {}
    registry_binary: str = "/usr/bin/docker-registry"
    thresholds: Thresholds = Thresholds()
    sync_guard: SyncGuard = SyncGuard()
    intervals: Intervals = Intervals()
    timeouts: Timeouts = Timeouts()


class Config(_ConfigFields):
    """One node's configuration (docs/configuration.md), held to config/rules.py whenever
    it is built by keyword (`Config(...)`, `replace`, `_replace`); `_make` from a tuple of
    values is not checked (how a pickled Config comes back)."""

    __slots__ = ()

    def __new__(cls, **fields: Any) -> Config:
        """Keys by name only, as in a config file; ValueError names every broken rule."""
        from registry_monitor.config.rules import problems_of

        if not fields.get("node"):
            fields["node"] = _default_node()
        fields.setdefault("parity_files", dict(PARITY_FILES))
        fields.setdefault("parity_ignore_lines", {})
        built = super().__new__(cls, **fields)
        normalised, problems = problems_of(built)
        if problems:
            raise ValueError("\n".join(problems))
        return _ConfigFields._replace(built, **normalised) if normalised else built

    def __reduce__(self) -> tuple[Any, tuple[tuple[Any, ...]]]:
        # unpickled by _make, as it was pickled: checked when built, not again on every
        # cached run
        return (Config._make, (tuple(self),))

    @property
    def watched_services(self) -> tuple[str, ...]:
        """The units the services probe watches: `services`, or the role's when unset."""
        return self.services if self.services is not None else ROLE_SERVICES[self.role]

    def replace(self, **changes: Any) -> Config:
        """A copy with some keys changed (and checked again)."""
        return Config(**{**self._asdict(), **changes})

    _replace = replace  # the NamedTuple's own would skip the checks

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
