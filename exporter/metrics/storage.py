"""storage reading -> storage_* families."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import gauge, single_counter, single_gauge
from registry_monitor.probes.reading import Measured
from registry_monitor.probes.storage import StorageStatus


def render(reading: Measured[StorageStatus]) -> Iterator[Metric]:
    status = reading.value
    s = status.scan
    figures = (
        ("storage_repositories", "Repositories on disk (with _layers).", s.repositories),
        ("storage_tags", "Tags on disk (tag links), summed over repositories.", s.tags),
        ("storage_manifests", "Manifest revisions, summed over repositories.", s.manifests),
        ("storage_blobs", "Blobs in blobs/sha256 (layers, configs and manifests).", s.blobs),
        ("storage_blob_bytes", "Bytes of all blobs.", s.blob_bytes),
        (
            "storage_dangling_references",
            "Tags and revisions whose manifest, or a blob or child manifest it needs, is "
            "missing: images that cannot be pulled. Dangling _layers links are not counted.",
            s.dangling_references,
        ),
        (
            "storage_reclaimable_bytes",
            "Bytes of blobs no manifest revision references: what a garbage collection would free.",
            s.reclaimable_bytes,
        ),
    )
    yield from (single_gauge(name, doc, float(value)) for name, doc, value in figures)
    if s.last_push is not None:
        yield single_gauge(
            "storage_last_push_timestamp_seconds",
            "Newest tag link mtime: the last tag push.",
            s.last_push,
        )
    uploads = gauge(
        "storage_uploads",
        "Uploads in _uploads: active, or stale (startedat older than stale_upload_seconds, "
        "or unreadable), which the registry's purger never removes.",
        ["state"],
    )
    uploads.add_metric(["active"], float(s.uploads_active))
    uploads.add_metric(["stale"], float(s.uploads_stale))
    yield uploads
    v = status.verify
    if v.enabled:
        yield single_counter(
            "storage_blob_verify_failures",
            "Blobs whose content did not hash to their digest (or could not be read) in the "
            "rolling sha256 check, since the exporter started.",
            float(v.failures_total),
        )
        yield single_counter(
            "storage_blob_verified_bytes",
            "Bytes hashed by the rolling sha256 check since the exporter started.",
            float(v.verified_bytes_total),
        )
    o = status.owners
    if o.checked and o.foreign_files is not None:
        yield single_gauge(
            "storage_foreign_owner_files",
            "Files and directories under data_dir not owned by registry_user (rolling "
            "sweep); after a failover they break pushes.",
            float(o.foreign_files),
        )
