"""storage: what the registry holds on disk; dangling references are CRITICAL.

A dangling reference (a tag or revision whose manifest, or a blob that
manifest needs, is missing) is an image whose pull fails: CRITICAL when their
count is outside -c (default `0`: any). A checksum failure in the rolling
sha256 check is corrupt data: CRITICAL. Stale uploads (the registry's purger
never removes them) and files not owned by the registry's user (pushes break
after a failover) are WARNING.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, ceiling, parse_range
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, levels, refuse
from registry_monitor.probes.reading import Measured
from registry_monitor.times import when

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.storage import StorageStatus

NONE = ceiling(0)  # a count that alerts above 0


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "storage", "-w/-c are the count of dangling references", allowed=("-w", "-c"))
    dangling = levels(options.warning, options.critical, None, parse_range, ceiling)
    if options.critical is None:
        dangling = Threshold(dangling.warning, NONE)
    return {"dangling": dangling}


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def ago(unix: float) -> str:
    seconds = max(0.0, time.time() - unix)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def judge(reading: Measured[StorageStatus], limits: Limits) -> Verdict:
    status = reading.value
    s, verify, owners = status.scan, status.verify, status.owners
    j = VerdictBuilder("storage")
    dangling = limits.get("dangling", Threshold(None, NONE))
    j.add(
        State.OK,
        f"{s.repositories} repositories, {s.tags} tags, {s.manifests} manifests, "
        f"{s.blobs} blobs ({gib(s.blob_bytes)})",
    )
    if s.last_push is not None:
        j.add(State.OK, f"last push {when(s.last_push)} ({ago(s.last_push)})")
    state = dangling.state(s.dangling_references)
    if s.dangling_references or state is not State.OK:
        j.add(
            state,
            f"{s.dangling_references} dangling references "
            f"{dangling.explain(s.dangling_references)}".rstrip(),
        )
    for example in s.dangling_examples:
        j.detail(example)
    if s.uploads_stale:
        j.add(State.WARNING, f"{s.uploads_stale} stale uploads (older than the purge age)")
    if verify.failures_total:
        j.add(State.CRITICAL, f"{verify.failures_total} blobs fail their sha256 check")
        for failure in verify.recent_failures:
            j.detail(failure)
    if owners.foreign_files:
        j.add(State.WARNING, f"{owners.foreign_files} files not owned by {owners.user}")
        for example in owners.examples:
            j.detail(example)
    for note in (*s.notes, *([owners.note] if owners.note else [])):
        j.add(State.OK, f"note: {note}")

    j.perf("repositories", s.repositories, minimum=0)
    j.perf("tags", s.tags, minimum=0)
    j.perf("manifests", s.manifests, minimum=0)
    j.perf("blobs", s.blobs, minimum=0)
    j.perf("blob_bytes", s.blob_bytes, "B", minimum=0)
    j.perf("reclaimable_bytes", s.reclaimable_bytes, "B", minimum=0)
    j.perf("dangling_references", s.dangling_references, threshold=dangling, minimum=0)
    j.perf("uploads_active", s.uploads_active, minimum=0)
    j.perf("uploads_stale", s.uploads_stale, warning=NONE, minimum=0)
    if verify.enabled:
        j.perf("verified_bytes", verify.bytes_this_run, "B", minimum=0)
        j.perf("verify_failures", verify.failures_total, critical=NONE, minimum=0)
    if owners.checked:
        j.perf("foreign_owner_files", owners.foreign_files, warning=NONE, minimum=0)
    summary = f"{s.repositories} repositories, {s.tags} tags, {s.blobs} blobs ({gib(s.blob_bytes)})"
    if s.last_push is not None:
        summary += f", last push {ago(s.last_push)}"
    return j.verdict(summary)
