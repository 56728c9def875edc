"""storage: what the registry holds on disk, read from its layout (both nodes).

Repositories, tags, manifest revisions, blobs and bytes, uploads in progress
and stale ones, and references that point at missing content (a tag or
revision whose manifest, or a blob or child manifest that manifest needs, is
gone). Then two rolling checks, each covering its share of the tree per run so
that a whole pass fits in its period (a day by default): sha256 of blob
contents, and the owners of files. The scan is incremental (registry_monitor/storage/scan.py)
and runs on its own interval, never on a scrape; its inventory is what
/api/inventory serves to the standby.
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
import time
from typing import NamedTuple

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.storage.inventory import Inventory
from registry_monitor.storage.owners import OwnerStatus, OwnerSweep
from registry_monitor.storage.scan import Scanner
from registry_monitor.storage.snapshot import StorageSnapshot
from registry_monitor.storage.verify import BlobVerifier, VerifyStatus


class StorageStatus(NamedTuple):
    scan: StorageSnapshot
    verify: VerifyStatus
    owners: OwnerStatus

    @property
    def inventory(self) -> Inventory:
        return self.scan.inventory


FULL_SLACK = 1.0  # seconds: a run a little early for its full run does it all the same
PERIOD_MARGIN = 1.25  # a pass ends within 80 % of its period: room for late or slow runs


def share(interval: float, period: float) -> float:
    """The part of the tree one run covers so that a whole pass fits in the period."""
    return min(1.0, PERIOD_MARGIN * interval / period)


class StorageProbe:
    name = "storage"

    def __init__(self, config: Config, scanner: Scanner | None = None) -> None:
        """`scanner`: the process's scanner of config.data_dir (None: one of its own)."""
        self.scanner = scanner or Scanner(
            config.data_dir, config.node, config.role, config.stale_upload_seconds
        )
        # the rolling checks and the deep slice run on full runs only; the runs between
        # (every intervals.storage seconds) look for pushes: the time stamps only
        self.full_every = config.storage_full_scan_seconds
        interval = max(config.intervals.of("storage"), self.full_every)
        self.last_full: float | None = None  # monotonic
        self.checked: tuple[VerifyStatus, OwnerStatus] | None = None
        self.verifier = BlobVerifier(
            config.data_dir,
            config.verify_bytes_per_scan,
            share(interval, config.verify_period_seconds),
        )
        self.owners = OwnerSweep(
            config.data_dir,
            config.registry_user,
            config.owner_check_files_per_scan,
            share(interval, config.owner_check_period_seconds),
        )

    def __call__(self, deadline: Deadline) -> StorageStatus:
        now = time.monotonic()
        full = (
            self.checked is None
            or self.last_full is None
            or now - self.last_full >= self.full_every - FULL_SLACK
        )
        # between full runs, a look for pushes; a scan only when one came
        snapshot = self.scanner.scan(deadline) if full else self.scanner.fresh(deadline)
        if full or self.checked is None:
            self.checked = (
                self.verifier.run(self.scanner, deadline),
                self.owners.run(self.scanner, deadline),
            )
            self.last_full = now
        return StorageStatus(snapshot, *self.checked)
