"""The registry's content, read from its filesystem layout, incrementally.

A first scan reads every tag link, lists every revision and blob and parses
every manifest once. A rescan re-reads only what changed (the walk:
registry_monitor/storage/walk.py says what it relies on). Then, only if
something changed, the completeness graph is judged again
(registry_monitor/storage/completeness.py); the snapshot's counts are taken
every time (registry_monitor/storage/snapshot.py).
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

    def scan(self, deadline: Deadline) -> StorageSnapshot:
        """Scan now (incrementally after the first time)."""
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ProbeFailed("another scan of the data directory is still running")
        try:
            return self._scan(deadline)
        finally:
            self._lock.release()

    def _scan(self, deadline: Deadline) -> StorageSnapshot:
        started = time.time()
        if not self.data_dir.is_dir():
            raise ProbeFailed(f"data directory {self.data_dir} does not exist")
        self._scans += 1
        first = not self._last_scan
        slices = max(1, self.deep_slices)
        deep = self._scans % self.deep_slices if self.deep_slices else -1
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
        self._last_scan = snapshot.finished_at
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
