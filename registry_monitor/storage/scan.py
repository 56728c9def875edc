"""The registry's content, read from its filesystem layout, incrementally.

A first scan reads every tag link, lists every revision and blob and parses
every manifest once. A rescan re-reads only what changed (the walk:
registry_monitor/storage/walk.py says what it relies on). Then, only if
something changed, the completeness graph is judged again
(registry_monitor/storage/completeness.py); the snapshot's counts are taken
every time (registry_monitor/storage/snapshot.py).

Why the incremental scan earns its keep: the storage probe scans every 5
minutes and, between, rescans whenever its look for pushes (`fresh`, every
15 s) finds one, on both nodes, so the rescan is what the host pays for, all
day. The look itself stats only the directories a push changes: 12 ms of CPU
at the toolforge size against 85 ms for an unchanged rescan (2026-12-06).
Measured in one process on the synthetic trees, warm page cache (2 shared
cores, loaded; 2026-12-01):

    tree                             full scan CPU   unchanged rescan CPU
    toolforge (30k blobs, 10k tags)  1.1-1.3 s       0.12-0.15 s
    large (300k blobs, 100k tags)    11.4 s          1.0-1.2 s

A tenth of the full scan. A full scan every minute would cost the standby
about 2 % of a core at Toolforge's size (the goal for the whole exporter is
1 %) and 19 % at the large size; the rescan keeps both within the budget.

Why the spill file earns its keep: the full digests (32 bytes a blob) are
needed only for the inventory's wire form, the sha256 check and sizing
reclaimable blobs, so they wait in an anonymous file (walk.py, spill.py)
and only 64-bit keys stay in memory. Peak RSS of the same scans, digests
spilled against digests held in memory: toolforge 22.0 against 22.8 MB,
large 53.7 against 63.9 MB. The 10 MB at the large size is what keeps the
exporter (93-96 MB there, bench/README.md) under its 100 MB goal.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.storage.completeness import Completeness, assess
from registry_monitor.storage.inventory import Inventory
from registry_monitor.storage.snapshot import StorageSnapshot, inventory_of, take_snapshot
from registry_monitor.storage.walk import Tree

RACY_NS = 2 * 10**9
DEEP_SLICES = 16


class Scanner:
    """Scans one data directory; keeps what it needs to rescan cheaply. Thread-safe.

    A process makes one per data directory and hands it to the probes that read
    the tree (storage and standby), so they share its caches and never scan the
    same tree twice at once.
    """

    def __init__(self, data_dir: Path, node: str, role: str, stale_upload_seconds: float) -> None:
        self.data_dir = data_dir
        self.node = node
        self.role = role
        self.stale_upload_seconds = stale_upload_seconds
        self.racy_ns = RACY_NS
        self.deep_slices = DEEP_SLICES  # 0: never re-list what the time stamps say is unchanged
        self.tree = Tree(data_dir)
        self._lock = threading.Lock()
        self._found: tuple[Completeness, Inventory] | None = None
        self._scans = 0
        self._interrupted = False  # a scan stopped after updating some caches
        self._last_scan = 0.0  # when the last good scan finished
        self._snapshot: StorageSnapshot | None = None  # the last good scan's
        self._looked_at = 0.0  # when the tree was last found as that snapshot has it

    def scan(self, deadline: Deadline, deep: bool = True) -> StorageSnapshot:
        """Scan now (incrementally after the first time). `deep`: also list again this
        scan's slice of the tree whatever its time stamps say; a scan that only looks
        for pushes leaves that to the next deep one."""
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ProbeFailed("another scan of the data directory is still running")
        try:
            self._snapshot = self._scan(deadline, deep)
            return self._snapshot
        finally:
            self._lock.release()

    def fresh(self, deadline: Deadline, max_age: float = 0.0) -> StorageSnapshot:
        """The tree as it is now, cheaply: the last scan's snapshot while a look at the
        directories finds no push since (Tree.quiet_since_walk), or while the last look
        is under max_age seconds old; else a scan (not deep). Uploads and blobs are
        counted again by the next scan."""
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ProbeFailed("another scan of the data directory is still running")
        try:
            last = self._snapshot
            if not self.data_dir.is_dir():  # gone: no snapshot stands for it
                raise ProbeFailed(f"data directory {self.data_dir} does not exist")
            if last is not None and not self._interrupted:
                if 0 <= time.time() - self._looked_at <= max_age:
                    return last
                if self.tree.quiet_since_walk(self.racy_ns):
                    self._looked_at = time.time()
                    return last
            self._snapshot = self._scan(deadline, False)
            return self._snapshot
        finally:
            self._lock.release()

    def _scan(self, deadline: Deadline, deep_slice: bool) -> StorageSnapshot:
        started = time.time()
        if not self.data_dir.is_dir():
            raise ProbeFailed(f"data directory {self.data_dir} does not exist")
        first = not self._last_scan
        slices = max(1, self.deep_slices)
        deep = -1
        if deep_slice and self.deep_slices:
            self._scans += 1
            deep = self._scans % self.deep_slices
        stale = self._found is None or self._interrupted
        self._interrupted = True

        tree = self.tree
        changed, removed = tree.walk(deadline, self.racy_ns, slices, deep)
        # a manifest parsed is something learnt (say, a revision whose blob came back)
        changed = stale or changed or tree.counts["manifests"] > 0
        if changed or self._found is None:
            tree.manifests.commit(tree.present if removed or stale else None)
            tree.parse_tagged(deadline)
            found = assess(tree)
            self._found = (found, inventory_of(tree, found, self.node, self.role, started))
        self._interrupted = False
        found, inventory = self._found
        snapshot = take_snapshot(
            tree, found, inventory, started, self.stale_upload_seconds, not first, changed
        )
        self._last_scan = self._looked_at = snapshot.finished_at
        return snapshot

    def blob_chunks(self) -> Iterator[bytes]:
        """Every blob's full digest, sorted, one bucket at a time."""
        return self.tree.blob_chunks()

    def blob_totals(self) -> tuple[int, int]:
        """(blobs, their bytes) as of the last scan."""
        buckets = self.tree.buckets
        return sum(len(b.keys) for b in buckets), sum(b.total_bytes for b in buckets)

    def bucket(self, b: int) -> tuple[array[int], Callable[[], bytes]]:
        """Bucket b's sorted keys, and a function reading its full digests."""
        bucket = self.tree.buckets[b]
        return bucket.keys, bucket.digests

    def repository_names(self) -> list[str]:
        return sorted(self.tree.repos)
