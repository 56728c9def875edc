"""What one scan found, as the storage and standby probes report it.

Counts come from the walk's picture of the tree; dangling references and
reclaimable bytes from the completeness graph, recomputed only when the tree
changed; the inventory (complete tags and blobs) is the content the standby
compares. Its wire form is written only where it is served (the exporter).
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
import time
from typing import NamedTuple

from registry_monitor.storage.completeness import Completeness
from registry_monitor.storage.inventory import DigestSet, Inventory, build_inventory
from registry_monitor.storage.walk import Tree


class ScanStats(NamedTuple):
    seconds: float  # the scan alone (the probe's duration adds the rolling checks)
    incremental: bool  # False for the first scan of this process
    changed: bool  # content differed from the previous scan
    buckets_listed: int  # blob directories listed again (of 256)
    repositories_listed: int  # repositories whose listings were read again
    tag_links_read: int
    manifests_parsed: int


class StorageSnapshot(NamedTuple):
    """What a scan found; `inventory` is the content for /api/inventory and the standby."""

    started_at: float
    finished_at: float
    repositories: int
    tags: int
    manifests: int  # revision links, summed over repositories
    blobs: int
    blob_bytes: int
    last_push: float | None  # newest tag link mtime
    uploads_active: int
    uploads_stale: int
    dangling_references: int
    dangling_examples: tuple[str, ...]
    reclaimable_blobs: int
    reclaimable_bytes: int
    notes: tuple[str, ...]
    stats: ScanStats
    inventory: Inventory

    def json_fields(self) -> dict[str, object]:
        """As readings show it (registry_monitor/judging/jsonable.py): without the inventory,
        internal data too large to show."""
        fields = self._asdict()
        del fields["inventory"]
        return fields


def inventory_of(
    tree: Tree, found: Completeness, node: str, role: str, generated_at: float
) -> Inventory:
    """The tree's content as of now. The buckets are taken as they are: their digests
    stay readable (the spill file is append-only) for the wire form written later."""
    buckets = tuple(tree.buckets)
    return build_inventory(
        node,
        role,
        generated_at,
        found.complete_tags,
        DigestSet(tuple(b.keys for b in buckets)),
        lambda: (b.digests() for b in buckets),
    )


def take_snapshot(
    tree: Tree,
    found: Completeness,
    inventory: Inventory,
    started: float,
    stale_upload_seconds: float,
    incremental: bool,
    changed: bool,
) -> StorageSnapshot:
    now = time.time()
    stale_before = now - stale_upload_seconds
    tags = manifests = active = stale = 0
    last_push: float | None = None
    for repo in tree.repos.values():
        if repo.is_repository:
            count = repo.tag_count()
            tags += count
            manifests += len(repo.revisions)
            if count:
                newest = max(repo.tag_mtimes)
                last_push = newest if last_push is None else max(last_push, newest)
        for when in repo.uploads:
            if when is None or when < stale_before:
                stale += 1
            else:
                active += 1
    counts = tree.counts
    return StorageSnapshot(
        started_at=started,
        finished_at=now,
        repositories=sum(r.is_repository for r in tree.repos.values()),
        tags=tags,
        manifests=manifests,
        blobs=sum(len(b.keys) for b in tree.buckets),
        blob_bytes=sum(b.total_bytes for b in tree.buckets),
        last_push=last_push,
        uploads_active=active,
        uploads_stale=stale,
        dangling_references=found.dangling,
        dangling_examples=found.examples,
        reclaimable_blobs=found.reclaimable_blobs,
        reclaimable_bytes=found.reclaimable_bytes,
        notes=tuple(tree.notes),
        stats=ScanStats(
            seconds=round(now - started, 6),
            incremental=incremental,
            changed=changed,
            buckets_listed=counts["buckets"],
            repositories_listed=counts["repos"],
            tag_links_read=counts["links"],
            manifests_parsed=counts["manifests"],
        ),
        inventory=inventory,
    )
