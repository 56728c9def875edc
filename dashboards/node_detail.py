"""Node detail: one registry host, every probe's success and duration and what it read."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from dashboards import queries as q
from dashboards import shared
from dashboards.frame import dashboard_frame, with_rows
from dashboards.panels import (
    PanelBuilder,
    Query,
    bad_from,
    falling,
    flag_mapping,
    good_from,
    metric,
    on_node,
    stat_panel,
    timeseries_panel,
)
from dashboards.scope import NODE
from dashboards.thresholds import THRESHOLDS


def probes_row() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Probe status",
            "Whether each probe's last run produced its reading. FAILED means the probe "
            "could not measure at all (systemctl hung, data directory missing, certificate "
            "unreachable); a registry that is down is a finding, not a failed probe.",
            [Query(on_node(metric("probe_success")), "{{probe}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("FAILED", "OK"),
            width=24,
            height=4,
            alerts=("RegistryProbeFailing",),
        ),
        timeseries_panel(
            "Probe success",
            "1 while a probe's runs produce readings, 0 while they fail or time out.",
            [Query(on_node(metric("probe_success")), "{{probe}}")],
            "none",
            good_from(1),
            width=8,
            steps_line=True,
            alerts=("RegistryProbeFailing",),
        ),
        timeseries_panel(
            "Probe duration",
            "How long each probe's last run took. A run that nears its time-out is about "
            "to fail; the storage walk grows with the data.",
            [Query(on_node(metric("probe_duration_seconds")), "{{probe}}")],
            "s",
            width=8,
        ),
        timeseries_panel(
            "Reading age",
            "Time since each probe's last run started. It should stay below the probe's "
            "interval; a growing age is a probe stuck in a system call.",
            [
                Query(
                    on_node(f"time() - {metric('probe_last_run_timestamp_seconds')}"),
                    "{{probe}}",
                )
            ],
            "s",
            width=8,
            alerts=("RegistryProbeStale",),
        ),
    ]


def disk_row() -> list[PanelBuilder]:
    return [
        shared.disk_used(NODE),
        timeseries_panel(
            "Available bytes",
            "Bytes the registry (not root) can still write on the data filesystem.",
            [Query(on_node(q.AVAIL), "{{mountpoint}} ({{device}})")],
            "bytes",
            width=6,
            alerts=("RegistryDiskFillingUp",),
        ),
        shared.free_inodes(NODE),
        stat_panel(
            "Read-only",
            "Whether the data filesystem is mounted read-only (the kernel does so after "
            "I/O errors): every push and sync fails.",
            [Query(on_node(metric("filesystem_readonly")), "{{mountpoint}}")],
            "none",
            bad_from(1),
            mappings=flag_mapping("read-write", "READ-ONLY", good=0),
            width=6,
            alerts=("RegistryFilesystemReadOnly",),
        ),
    ]


def services_row() -> list[PanelBuilder]:
    return [
        shared.services(NODE),
        shared.service_starts(NODE),
        timeseries_panel(
            "Time since start",
            "Time since each unit last became active. It falls back to 0 at every start.",
            [Query(on_node(f"time() - {metric('service_start_time_seconds')}"), "{{unit}}")],
            "s",
            width=8,
        ),
        timeseries_panel(
            "Main process: file descriptors",
            "Open file descriptors of each unit's main process against its soft limit "
            "(RLIMIT_NOFILE). Past the limit, accepts and opens fail. Another user's "
            "process (docker-registry's) shows its limit only, unless the exporter has the "
            'opt-in drop-in of docs/metrics.md ("The registry\'s open descriptors").',
            [
                Query(on_node(metric("service_process_open_fds")), "{{unit}} open"),
                Query(on_node(metric("service_process_max_fds")), "{{unit}} limit"),
            ],
            "short",
            width=12,
            alerts=("RegistryProcessFdsNearLimit",),
        ),
        timeseries_panel(
            "Main process: resident memory",
            "Resident memory of each unit's main process. A line that only climbs is a leak "
            "heading for the OOM killer.",
            [Query(on_node(metric("service_process_resident_memory_bytes")), "{{unit}}")],
            "bytes",
            width=12,
            alerts=("RegistryProcessMemoryGrowing",),
        ),
    ]


def api_row() -> list[PanelBuilder]:
    return [
        shared.api_latency(NODE),
        timeseries_panel(
            "GET /v2/ status",
            "HTTP status of GET /v2/: 200 (or 401 with the registry header) is up, 0 is "
            "no answer at all, 5xx is a daemon or proxy error.",
            [Query(on_node(metric("api_status_code")), "{{endpoint}}")],
            "none",
            width=8,
            steps_line=True,
            alerts=("RegistryBackendDown", "RegistryPublicDown"),
        ),
        stat_panel(
            "Canary images",
            "Whether HEAD of each canary image's manifest answered 200, per endpoint. A "
            "missing canary means the images users pull are gone or unreadable.",
            [Query(on_node(metric("manifest_up")), "{{endpoint}} {{image}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("MISSING", "OK"),
            width=8,
            alerts=("RegistryCanaryImageMissing",),
        ),
        shared.catalog_size(NODE),
        shared.catalog_walk(NODE),
        shared.push_time(NODE),
    ]


def cert_row() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Certificate days left",
            "Days until notAfter of the served certificate and the one on disk. A served "
            "line below the file line means nginx was not reloaded after a renewal.",
            [Query(on_node(q.CERT_DAYS_LEFT), "{{source}} {{target}}")],
            "d",
            falling(THRESHOLDS.cert_days_left),
            width=12,
            alerts=("RegistryCertExpiringSoon",),
        ),
        stat_panel(
            "Certificate valid",
            "Whether each certificate's chain verifies and its name matches the public URL, now.",
            [Query(on_node(metric("cert_valid")), "{{source}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("INVALID", "valid"),
            width=6,
            alerts=("RegistryCertInvalid",),
        ),
        stat_panel(
            "Served matches file",
            "Whether nginx serves the certificate on disk. No: it was renewed but nginx "
            "was not reloaded.",
            [Query(on_node(metric("cert_served_matches_file")), "{{target}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("NO: reload nginx", "yes"),
            width=6,
            alerts=("RegistryCertNotReloaded",),
        ),
    ]


def storage_row() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Repositories, manifests and tags",
            "What the registry data on this node holds, read from disk.",
            [
                Query(on_node(metric("storage_repositories")), "repositories"),
                Query(on_node(metric("storage_manifests")), "manifests"),
                Query(on_node(metric("storage_tags")), "tags"),
                Query(on_node(metric("storage_blobs")), "blobs"),
            ],
            "short",
            width=8,
        ),
        timeseries_panel(
            "Stored and reclaimable bytes",
            "Bytes of all blobs, and bytes garbage collection would free (blobs no "
            "manifest references).",
            [
                Query(on_node(metric("storage_blob_bytes")), "stored"),
                Query(on_node(metric("storage_reclaimable_bytes")), "reclaimable"),
            ],
            "bytes",
            width=8,
            alerts=("RegistryReclaimableSpace",),
        ),
        timeseries_panel(
            "Uploads",
            "Uploads in progress (active) and abandoned ones the registry never purges "
            "(stale): they hold disk space.",
            [Query(on_node(metric("storage_uploads")), "{{state}}")],
            "short",
            width=8,
            alerts=("RegistryStaleUploads",),
        ),
        timeseries_panel(
            "Time since last push",
            "Time since the newest tag was written. On the active it shows users pushing; "
            "on the standby, when a sync last brought something new.",
            [
                Query(
                    on_node(f"time() - {metric('storage_last_push_timestamp_seconds')}"),
                    "last push",
                )
            ],
            "s",
            width=8,
        ),
        shared.data_faults(NODE),
        timeseries_panel(
            "Blob verify failures",
            "Blobs whose content no longer matches their digest, found per interval: "
            "corrupted data that pulls will reject.",
            [
                Query(
                    on_node(
                        f"increase({metric('storage_blob_verify_failures_total')}"
                        "[$__rate_interval])"
                    ),
                    "failures",
                )
            ],
            "short",
            width=8,
            bars=True,
            alerts=("RegistryBlobCorrupt",),
        ),
    ]


def sync_row() -> list[PanelBuilder]:
    return [
        shared.sync_runs(NODE),
        shared.last_good_sync(NODE),
        stat_panel(
            "Sync timer",
            "Whether rsync-docker-registry-sync.timer is active on the standby: without it "
            "no sync ever starts again. On the active it must not be (see the pair overview's "
            "erasure row): no value here.",
            [
                Query(
                    on_node(metric("sync_timer_active"))
                    + f" and on (job, cluster, instance) {metric('node_info', role='standby')}",
                    "timer",
                )
            ],
            "none",
            good_from(1),
            mappings=flag_mapping("INACTIVE", "active"),
            width=8,
            alerts=("RegistrySyncTimerInactive",),
        ),
        shared.standby_lag(NODE),
        shared.standby_missing(NODE),
    ]


def node_detail() -> builders.Dashboard:
    return with_rows(
        dashboard_frame(
            NODE,
            "Registry node detail",
            "One registry host: every probe's success and duration, and what each read.",
        ),
        [
            ("Probes", probes_row()),
            ("Disk", disk_row()),
            ("Services", services_row()),
            ("Registry API and pushes", api_row()),
            ("Certificates", cert_row()),
            ("Stored content", storage_row()),
            ("Sync and standby (standby only)", sync_row()),
        ],
    )
