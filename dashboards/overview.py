"""Registry pair overview: is the pair healthy, and could the standby take over now?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders

from dashboards import queries as q
from dashboards import shared
from dashboards.erasure import erasure_row
from dashboards.frame import dashboard_frame, with_rows
from dashboards.panels import (
    NEUTRAL,
    Column,
    PanelBuilder,
    PrometheusAnnotation,
    Query,
    bad_from,
    falling,
    flag_mapping,
    good_from,
    metric,
    rising,
    stat_panel,
    table_panel,
    timeseries_panel,
    with_node,
)
from dashboards.scope import NODE_ROLE, PAIR, on_role
from dashboards.thresholds import THRESHOLDS
from dashboards.traffic import traffic_row


def failover_row() -> list[PanelBuilder]:
    """The first thing to read before switching DNS: the standby's one answer."""
    return [
        stat_panel(
            "Could the standby take over now?",
            "The standby's own judgement, every probe cycle: compared with the active, lag "
            "under its critical level, no divergent content or dangling references, every "
            "canary image pulled whole through its nginx with digests verified, its config "
            "files, certificate and versions as on the active, certificate valid with its "
            "key, no sync running, room on disk for the active's content. NOT READY: see the "
            "blockers beside it, or run `check_registry failover -v` on the standby.",
            [Query(with_node(metric("failover_ready")), "{{node}}")],
            "none",
            good_from(1),
            width=6,
            height=6,
            mappings=flag_mapping("NOT READY", "READY"),
            alerts=("RegistryStandbyNotReady",),
            detail_link=True,
        ),
        stat_panel(
            "Tags a failover now loses",
            "Tags of the active the standby lacks or has pointing elsewhere: lost if the "
            "traffic moved to the standby now. Non-zero between syncs is normal.",
            [Query(with_node(metric("failover_lost_tags")), "{{node}}")],
            "short",
            NEUTRAL,
            width=4,
            height=6,
            alerts=("RegistryStandbyLagHigh",),
            detail_link=True,
        ),
        stat_panel(
            "Failover blockers",
            "One tile per reason that can block a failover: red is blocking now. The "
            "runbook (RegistryStandbyNotReady) says what to do for each.",
            [Query(with_node(metric("failover_blocker")), "{{reason}}")],
            "none",
            bad_from(1),
            width=14,
            height=6,
            mappings=flag_mapping("ok", "BLOCKING", good=0),
            alerts=("RegistryStandbyNotReady",),
            detail_link=True,
        ),
    ]


def stat_row() -> list[PanelBuilder]:
    return [
        stat_panel(
            "API up",
            "GET /v2/ on each node, straight to the registry daemon (backend) and through "
            "nginx with TLS (public). DOWN on backend: the daemon is dead or hung; DOWN on "
            "public only: nginx or its certificate.",
            [Query(with_node(metric("api_up")), "{{node}} {{endpoint}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("DOWN", "UP"),
            alerts=("RegistryBackendDown", "RegistryPublicDown"),
            detail_link=True,
        ),
        shared.services(PAIR),
        stat_panel(
            "Push works",
            "The active node's write canary: a small blob pushed every minute. A registry "
            "can answer reads and still refuse pushes (full disk, read-only mode).",
            [Query(with_node(metric("write_up")), "{{node}}")],
            "none",
            good_from(1),
            mappings=flag_mapping("FAILING", "OK"),
            alerts=("RegistryWriteFailing",),
            detail_link=True,
        ),
        stat_panel(
            "Certificate days left",
            "Days until notAfter of the certificate nginx serves and of the one on disk. "
            "Orange below the warning level, red below the critical one (the alert levels).",
            [
                Query(
                    with_node(f"min by (job, cluster, instance, source) ({q.CERT_DAYS_LEFT})"),
                    "{{node}} {{source}}",
                )
            ],
            "d",
            falling(THRESHOLDS.cert_days_left),
            alerts=("RegistryCertExpiringSoon",),
            detail_link=True,
        ),
        stat_panel(
            "Standby lag",
            "Age of the oldest change on the active that the standby lacks (0: in step): "
            "what a failover now would lose.",
            [Query(with_node(metric("standby_lag_seconds")), "{{node}}")],
            "s",
            rising(THRESHOLDS.standby_lag_seconds),
            alerts=("RegistryStandbyLagHigh",),
            detail_link=True,
        ),
        stat_panel(
            "Last good sync",
            "Time since the standby's rsync last finished well. A standby that never "
            "synced shows decades.",
            [Query(on_role(q.SYNC_SUCCESS_AGE, "standby"), "{{node}}")],
            "s",
            rising(THRESHOLDS.sync_success_age_seconds),
            alerts=("RegistrySyncStale", "RegistrySyncFailing"),
            detail_link=True,
        ),
        shared.data_faults(PAIR),
        stat_panel(
            "Disk used",
            "Used share of the filesystem holding the registry data, as df shows it. "
            "Orange from the warning level, red from the critical one.",
            [Query(with_node(q.DISK_USED_PERCENT), "{{node}}")],
            "percent",
            rising(THRESHOLDS.disk_used_percent),
            alerts=("RegistryDiskAlmostFull",),
            detail_link=True,
        ),
    ]


def disk_row() -> list[PanelBuilder]:
    return [shared.disk_used(PAIR), shared.free_inodes(PAIR)]


def api_row() -> list[PanelBuilder]:
    return [
        shared.api_latency(PAIR),
        shared.catalog_walk(PAIR),
        shared.catalog_size(PAIR),
    ]


def content_row() -> list[PanelBuilder]:
    def side_by_side(title: str, name: str, unit: str, what: str) -> PanelBuilder:
        return timeseries_panel(
            title,
            f"{what} in the registry data on each node, read from disk. The standby "
            "should follow the active within a sync or two; a gap that stays is data a "
            "failover would lose.",
            [Query(with_node(metric(name)), NODE_ROLE)],
            unit,
            width=8,
            alerts=("RegistryStandbyMissingRepositories",),
            detail_link=True,
        )

    return [
        side_by_side("Stored tags", "storage_tags", "short", "Tags"),
        side_by_side(
            "Stored blobs", "storage_blobs", "short", "Blobs (layers, configs, manifests)"
        ),
        side_by_side("Stored bytes", "storage_blob_bytes", "bytes", "Bytes of all blobs"),
    ]


def standby_row() -> list[PanelBuilder]:
    return [
        shared.standby_lag(PAIR),
        shared.standby_missing(PAIR),
        shared.last_good_sync(PAIR),
        shared.sync_runs(PAIR),
    ]


def services_row() -> list[PanelBuilder]:
    return [shared.service_starts(PAIR), shared.push_time(PAIR)]


def certificate_table() -> PanelBuilder:
    return table_panel(
        "Certificates",
        "The certificate nginx serves (source served) and the one on disk (source file) "
        "on each node. A served certificate whose fingerprint differs from the file's was "
        "renewed on disk but nginx was not reloaded.",
        [
            Column(
                Query(
                    with_node(q.cert_row(f"{metric('cert_not_after_timestamp_seconds')} * 1000")),
                    instant=True,
                    table=True,
                ),
                "Not after",
                "dateTimeAsIso",
            ),
            Column(
                Query(with_node(q.cert_row(q.CERT_DAYS_LEFT)), instant=True, table=True),
                "Days left",
                "d",
                thresholds=falling(THRESHOLDS.cert_days_left),
            ),
            Column(
                Query(with_node(q.cert_row(metric("cert_valid"))), instant=True, table=True),
                "Valid",
                "none",
                mappings=flag_mapping("no", "yes"),
            ),
            Column(
                Query(with_node(q.cert_row(q.CERT_MATCHES_FILE)), instant=True, table=True),
                "Matches file",
                "none",
                mappings=flag_mapping("no: reload nginx", "yes"),
            ),
        ],
        hidden=("instance",),
        order=("node", "role", "source", "target", "subject", "issuer", "serial"),
        alerts=("RegistryCertExpiringSoon", "RegistryCertInvalid", "RegistryCertNotReloaded"),
    )


def event_annotations() -> list[PrometheusAnnotation]:
    return [
        PrometheusAnnotation(
            "Sync failures",
            with_node(q.SYNC_FAILED),
            "red",
            title="Sync failed on {{node}}",
            text="rsync exited with an error (not 0, not 24)",
            tags="node",
        ),
        PrometheusAnnotation(
            "Service restarts",
            with_node(f"{q.SERVICE_STARTS} > 0 or {q.SERVICE_RESTARTS} > 0"),
            "orange",
            title="{{unit}} (re)started on {{node}}",
            text="a new start time or a systemd restart",
            tags="node,unit",
        ),
    ]


def overview() -> builders.Dashboard:
    dashboard = dashboard_frame(
        PAIR,
        "Registry pair overview",
        "Is the docker-registry pair healthy, and could the standby take over now? "
        "Colours follow the alert levels.",
    )
    for annotation in event_annotations():
        dashboard = dashboard.annotation(annotation)
    for panel in [*failover_row(), *stat_row()]:
        dashboard = dashboard.with_panel(panel)
    return with_rows(
        dashboard,
        [
            ("Disk", disk_row()),
            ("Registry API", api_row()),
            ("Traffic (nginx access log)", traffic_row()),
            ("Stored content per node", content_row()),
            ("Standby and sync", standby_row()),
            ("Erasure paths: pushes the next sync would erase", erasure_row()),
            ("Services and pushes", services_row()),
            ("Certificates", [certificate_table()]),
        ],
    )
