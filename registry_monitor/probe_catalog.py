"""The probe catalog: every probe, declared once.

This is the one list of probes. Each entry gives a probe's name, the roles
it runs on (and the config switch that overrides that, if any), its default
interval and time-out, and where its probe class is. Everything else follows
from it:

- the config's `intervals` and `timeouts` keys (one field per probe, these
  defaults) and `probes_for_role()`, in registry_monitor/config/__init__.py;
- check_registry's PROBE argument, in checks/arguments.py;
- the verdict, found by name: `registry_monitor.judging.verdicts.<name>`;
- the exporter's renderer, found by name by the exporter: `exporter.metrics.<name>.render`;
- how each face builds and treats it: the fields below `needs` (the shared scanner, the
  inventory's wire form, the log window, kept certificate facts, its place in the
  failover judgement, its lines in check_registry --help). A face asks the spec, never
  compares a probe's name.

Adding a probe means its own files and one entry here (docs/adding-a-probe.md);
tests/test_probe_catalog.py fails while either face is missing. The order of
the entries is the order probes run in and are reported in.

This module imports nothing of the project, so the config package can build on it.
Its records are NamedTuples: a dataclass (slots=True builds each class twice)
costs every check_registry run about a millisecond a class.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Role = Literal["active", "standby"]
BOTH: tuple[Role, ...] = ("active", "standby")


class Switch(NamedTuple):
    """A boolean config key that turns a probe on or off, whatever the role; null: by role."""

    key: str
    does: str  # what turning it on does, for the refusal check_registry prints ("push ... here")


class Needs(NamedTuple):
    """A config key that must be set for the probe to run at all, whatever the role."""

    key: str
    what: str  # what to set, for the refusal check_registry prints ("access_log (path, format)")


class ProbeSpec(NamedTuple):
    name: str
    probe_class: str  # "module:Class"; the class takes the Config, its __call__ gives the reading
    roles: tuple[Role, ...]  # roles it runs on by default
    interval: float  # default seconds between runs in the exporter (config `intervals.<name>`)
    timeout: float  # default seconds one run may take (config `timeouts.<name>`)
    switch: Switch | None = None
    needs: Needs | None = None
    # an interval shorter than the time-out on purpose: most runs are quick (an unchanged
    # rescan, a 304), the time-out is for the rare long one (a first scan, a new inventory);
    # the scheduler starts a probe's next run only once its last has ended
    quick_runs: bool = False
    # built with the process's one scanner of data_dir (probes.Shared) as its second
    # argument, so that the probes reading the tree share its caches and never scan twice
    uses_scanner: bool = False
    # the exporter writes its reading's inventory in wire form after each run, in the
    # probe's thread, for /api/inventory (exporter/wire.py)
    serves_inventory: bool = False
    # check_registry builds it with window_minutes=--minutes: it reads the log's recent
    # past once, where the exporter follows the log
    windowed: bool = False
    # reads certificates: check_registry keeps their facts on disk between runs
    # (registry_monitor/tls/certfacts.py), so that a steady run needs no cryptography
    reads_certificates: bool = False
    # its reading's place in the failover judgement (judging/readiness.py, which judges
    # the parts in this order); None: the judgement does not read it
    failover_part: int | None = None
    # what -w/-c mean for it, one line each, for check_registry --help; () takes none
    threshold_help: tuple[str, ...] = ()

    @property
    def verdict_module(self) -> str:
        return f"registry_monitor.judging.verdicts.{self.name}"


PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec(
        "disk",
        "registry_monitor.probes.disk:DiskProbe",
        roles=BOTH,
        interval=15,
        timeout=5,
        failover_part=7,
        threshold_help=(
            "used space in percent (--unit bytes: available bytes); -W/-K inodes used %",
        ),
    ),
    ProbeSpec(
        "services",
        "registry_monitor.probes.services:ServicesProbe",
        roles=BOTH,
        interval=15,
        timeout=5,
    ),
    ProbeSpec(
        "api",
        "registry_monitor.probes.api:ApiProbe",
        roles=BOTH,
        interval=30,
        timeout=10,
        threshold_help=("GET /v2/ latency in seconds",),
    ),
    ProbeSpec(
        "cert",
        "registry_monitor.probes.cert:CertProbe",
        roles=BOTH,
        interval=300,
        timeout=10,
        reads_certificates=True,
        failover_part=5,
        threshold_help=("days left; a bare number N means fewer than N days (-w 21 -c 7)",),
    ),
    ProbeSpec(
        "write",
        "registry_monitor.probes.write:WriteProbe",
        roles=("active",),
        interval=60,
        timeout=10,
        switch=Switch("write_probe", "push canaries here"),
        threshold_help=("push duration in seconds (no default)",),
    ),
    ProbeSpec(
        "storage",
        "registry_monitor.probes.storage:StorageProbe",
        roles=BOTH,
        interval=15,  # looks for pushes; a full run every storage_full_scan_seconds
        timeout=240,
        quick_runs=True,
        uses_scanner=True,
        serves_inventory=True,
        failover_part=2,
        threshold_help=("dangling references (no -w by default; -c by default 0: any)",),
    ),
    ProbeSpec(
        "sync",
        "registry_monitor.probes.sync:SyncProbe",
        roles=BOTH,  # on the active too: a sync there erases the active's own pushes
        interval=30,
        timeout=5,
        failover_part=6,
        threshold_help=("age of the last successful sync in seconds",),
    ),
    ProbeSpec(
        "standby",
        "registry_monitor.probes.standby:StandbyProbe",
        roles=("standby",),
        interval=5,  # a 304 while nothing changed: a push shows here within seconds
        timeout=30,
        quick_runs=True,
        uses_scanner=True,
        failover_part=1,
        threshold_help=("lag behind the active in seconds",),
    ),
    ProbeSpec(
        "pull",
        "registry_monitor.probes.pull:PullProbe",
        roles=BOTH,
        interval=300,
        timeout=120,
        failover_part=3,
    ),
    ProbeSpec(
        "parity",
        "registry_monitor.probes.parity:ParityProbe",
        roles=BOTH,
        interval=60,
        timeout=15,
        reads_certificates=True,
        failover_part=4,
    ),
    ProbeSpec(
        "traffic",
        "registry_monitor.probes.traffic:TrafficProbe",
        roles=BOTH,
        interval=5,
        timeout=5,
        needs=Needs("access_log", "access_log (path, format)"),
        windowed=True,
        threshold_help=(
            "ERROR_PERCENT,P95_SECONDS: 5xx share and manifest-read p95 in nginx's",
            "access log over the last --minutes (default 5): -w 1,2 -c 5,5",
        ),
    ),
)

BY_NAME: dict[str, ProbeSpec] = {spec.name: spec for spec in PROBES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
# the probes the failover judgement reads, in the order it judges them
FAILOVER_PROBES: tuple[str, ...] = tuple(
    s.name for s in sorted(PROBES, key=lambda s: s.failover_part or 0) if s.failover_part
)


def spec(name: str) -> ProbeSpec:
    """The declaration of a probe; KeyError for a name not declared."""
    return BY_NAME[name]
