"""The facts the sync guard judges, each measured as a reading (value or error).

- `local`: this node's stored content (the storage scan: repositories, tags, blobs);
- `dry_run`: what a sync from the source would delete (rsync itself, dry_run.py);
- `divergence`: pushes this node holds that the active lacks (the standby probe, its
  divergence.py, against the active's inventory);
- `public`: where the public name points (public_name.py), when this node is told
  its public addresses;
- `needed`: what the dry run would delete that tags the source keeps still reference
  (references.py, from this node's scan): the source's content damaged.

On a node whose config says it is the active nothing is measured: its role alone
refuses the run. Every measurement shares one deadline; one that fails or runs out
of time is an error reading, and the judgement says what was not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.config import Config
from registry_monitor.probes.reading import Reading, run_probe

if TYPE_CHECKING:
    from registry_monitor.probes.public_name import PublicName
    from registry_monitor.probes.standby import StandbyStatus
    from registry_monitor.storage.scan import Scanner
    from registry_monitor.sync_guard.dry_run import DryRun
    from registry_monitor.sync_guard.references import Needed

MODULE = "docker-registry-sync"  # puppet's rsync::quickdatacopy title for the registry


class LocalCounts(NamedTuple):
    repositories: int
    tags: int
    blobs: int


@dataclass(frozen=True, slots=True)
class GuardFacts:
    node: str
    role: str
    source: str | None
    local: Reading[LocalCounts] | None = None  # None: not measured (the active)
    dry_run: Reading[DryRun] | None = None
    divergence: Reading[StandbyStatus] | None = None
    public: Reading[PublicName] | None = None  # None: public_addresses not set
    needed: Reading[Needed] | None = None  # None: the dry run or the scan failed

    def readings(self) -> dict[str, Reading[Any]]:
        found = {
            "local": self.local,
            "dry_run": self.dry_run,
            "divergence": self.divergence,
            "public": self.public,
            "needed": self.needed,
        }
        return {name: r for name, r in found.items() if r is not None}


def source_of(config: Config) -> str | None:
    """The rsync URL the unit pulls: sync_guard.source, else the active exporter's host."""
    if config.sync_guard.source is not None:
        return config.sync_guard.source.rstrip("/") + "/"
    if config.active_exporter_url is None:
        return None
    host = urlsplit(config.active_exporter_url).hostname
    if host is None:
        return None
    return f"rsync://[{host}]/{MODULE}/" if ":" in host else f"rsync://{host}/{MODULE}/"


class _Step:
    """One measurement as a probe, so that run_probe turns any failure into a reading."""

    def __init__(self, name: str, work: Any) -> None:
        self.name = name
        self.work = work

    def __call__(self, deadline: Deadline) -> Any:
        return self.work(deadline)


def measure(config: Config, deadline: Deadline) -> GuardFacts:
    source = source_of(config)
    if config.role == "active":
        return GuardFacts(config.node, config.role, source)
    from registry_monitor.storage.scan import Scanner  # only a guard that measures

    scanner = Scanner(config.data_dir, config.node, config.role, config.stale_upload_seconds)

    def local(d: Deadline) -> LocalCounts:
        found = scanner.scan(d)
        return LocalCounts(found.repositories, found.tags, found.blobs)

    def rsync(d: Deadline) -> DryRun:
        from registry_monitor.sync_guard.dry_run import dry_run

        if source is None:
            raise ProbeFailed("no source to ask: set sync_guard.source or active_exporter_url")
        return dry_run(source, config.data_dir, d)

    local_reading = run_probe(_Step("local", local), deadline)
    dry_reading = run_probe(_Step("dry_run", rsync), deadline)
    return GuardFacts(
        config.node,
        config.role,
        source,
        local=local_reading,
        # before the standby probe scans the tree again: the tree the counts came from
        needed=_needed(scanner, local_reading, dry_reading, deadline),
        dry_run=dry_reading,
        divergence=run_probe(_Step("divergence", _divergence(config, scanner)), deadline),
        public=_public(config, deadline),
    )


def _needed(
    scanner: Scanner,
    local: Reading[LocalCounts],
    run: Reading[DryRun],
    deadline: Deadline,
) -> Reading[Needed] | None:
    if local.error is not None or run.value is None or run.error is not None:
        return None  # the judgement already names what was not measured
    from registry_monitor.sync_guard.references import needed

    removals = run.value.removals

    def work(d: Deadline) -> Needed:
        if removals is None:
            raise ProbeFailed("the sync would delete too many files to name them all")
        return needed(scanner.tree, removals, d)  # one thread: nothing scans meanwhile

    return run_probe(_Step("needed", work), deadline)


def _divergence(config: Config, scanner: Scanner) -> Any:
    def work(deadline: Deadline) -> StandbyStatus:
        from registry_monitor.probes.standby import StandbyProbe

        return StandbyProbe(config, scanner, remember=False)(deadline)  # measures only

    return work


def _public(config: Config, deadline: Deadline) -> Reading[PublicName] | None:
    if config.public_addresses is None:
        return None
    from registry_monitor.probes.public_name import resolve

    def work(d: Deadline) -> PublicName:
        found = resolve(config.public_url, config.public_addresses, config.role, d.io_timeout())
        if not found.resolves:
            raise ProbeFailed(f"where {found.host} points is unknown: {found.summary()}", found)
        return found

    return run_probe(_Step("public", work), deadline)
