"""Panels both dashboards show, each built once for a scope (scope.PAIR or scope.NODE).

Query, unit, thresholds and alert links are written here once; what differs between the
dashboards (the description for their reader, series names, width) is picked by the scope.
"""

from __future__ import annotations

from dashboards import queries as q
from dashboards.panels import (
    PanelBuilder,
    Query,
    bad_from,
    falling,
    flag_mapping,
    good_from,
    metric,
    rising,
    stat_panel,
    timeseries_panel,
)
from dashboards.scope import NODE_ROLE, Scope
from dashboards.thresholds import DANGLING_REFERENCES_CRITICAL, THRESHOLDS, Levels


def _inverse(levels: Levels) -> Levels:
    """Free share from used-share levels: 80 % used is 20 % free."""
    return Levels(warning=100 - levels.warning, critical=100 - levels.critical)


def disk_used(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Disk used and forecast",
        scope.pick(
            "Used share of the data filesystem per node, and where it will be in 24 hours "
            "if the last 6 hours' trend goes on (predict_linear). A forecast above 100 % "
            "means the disk fills up within a day.",
            "Used share of the data filesystem, and where it will be in 24 hours if the "
            "last 6 hours' trend goes on. Lines at the alert levels.",
        ),
        [
            Query(scope.select(q.DISK_USED_PERCENT), scope.legend("used", f"{NODE_ROLE} used")),
            Query(
                scope.select(q.DISK_USED_PERCENT_FORECAST),
                scope.legend("in 24 h", f"{NODE_ROLE} in 24 h"),
            ),
        ],
        "percent",
        rising(THRESHOLDS.disk_used_percent),
        width=scope.pick(12, 6),
        soft_max=100,
        alerts=("RegistryDiskAlmostFull", "RegistryDiskFillingUp"),
        detail_link=scope.detail_link,
    )


def free_inodes(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Free inodes",
        scope.pick(
            "Share of the data filesystem's inodes still free (every blob and link is a "
            "file). Pushes fail with none left, whatever the free bytes. Lines at the "
            "alert levels of inodes used.",
            "Share of the data filesystem's inodes still free. Lines at the alert levels "
            "of inodes used.",
        ),
        [Query(scope.select(q.INODES_FREE_PERCENT), scope.legend("{{mountpoint}}", NODE_ROLE))],
        "percent",
        falling(_inverse(THRESHOLDS.disk_inodes_used_percent)),
        width=scope.pick(12, 6),
        soft_max=100,
        alerts=("RegistryInodesAlmostFull",),
        detail_link=scope.detail_link,
    )


def api_latency(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "API latency",
        scope.pick(
            "Time GET /v2/ took, per node and endpoint. Lines at the alert levels.",
            "Time GET /v2/ took on the backend (the daemon) and public (through nginx) "
            "endpoints. Lines at the alert levels.",
        ),
        [Query(scope.select(metric("api_duration_seconds")), scope.legend("{{endpoint}}"))],
        "s",
        rising(THRESHOLDS.api_latency_seconds),
        width=8,
        alerts=("RegistryApiSlow",),
        detail_link=scope.detail_link,
    )


def catalog_walk(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        scope.pick("Catalog walk time", "Catalog walk"),
        scope.pick(
            "Time the whole _catalog took (every page), per node and endpoint. It grows "
            "with the number of repositories; a sudden rise is a slow disk or daemon.",
            "Time the whole catalog walk took (every page), per endpoint.",
        ),
        [Query(scope.select(metric("catalog_duration_seconds")), scope.legend("{{endpoint}}"))],
        "s",
        width=8,
        alerts=("RegistryCatalogUnreachable",),
        detail_link=scope.detail_link,
    )


def catalog_size(scope: Scope) -> PanelBuilder:
    """On one node also the pages the walk took: a page count that jumps is a slow walk."""
    pages = [Query(scope.select(metric("catalog_pages")), "{{endpoint}} pages")]
    return timeseries_panel(
        scope.pick("Catalog size", "Catalog"),
        scope.pick(
            "Repositories the catalog lists, per node and endpoint. Both nodes should "
            "match; a drop on the active is lost data, on the standby a sync to come.",
            "Repositories the catalog lists and the pages it took, per endpoint.",
        ),
        [
            Query(
                scope.select(metric("catalog_repositories")),
                scope.legend("{{endpoint}} repositories", "{{node}} {{endpoint}}"),
            ),
            *scope.pick([], pages),
        ],
        "short",
        width=8,
        detail_link=scope.detail_link,
    )


def data_faults(scope: Scope) -> PanelBuilder:
    """The pair shows the tile per node; one node adds the files the registry cannot
    rewrite (a fault of that host, not of the pair)."""
    foreign = [Query(scope.select(metric("storage_foreign_owner_files")), "foreign-owned files")]
    return stat_panel(
        scope.pick("Dangling references", "Data faults"),
        scope.pick(
            "Tags or revisions whose manifest or blob is missing from the data: pulls of "
            "them fail. Any is red.",
            "Dangling references (a tag or revision whose manifest or blob is gone: pulls "
            "fail) and files not owned by the registry user (it cannot delete or rewrite "
            "them). Any is red.",
        ),
        [
            Query(
                scope.select(metric("storage_dangling_references")),
                scope.legend("dangling references", "{{node}}"),
            ),
            *scope.pick([], foreign),
        ],
        "none",
        bad_from(DANGLING_REFERENCES_CRITICAL),
        width=scope.pick(3, 8),
        alerts=("RegistryDanglingReferences", *scope.pick((), ("RegistryForeignOwnerFiles",))),
        detail_link=scope.detail_link,
    )


def services(scope: Scope) -> PanelBuilder:
    return stat_panel(
        "Services",
        scope.pick(
            "systemd ActiveState of each watched unit (docker-registry, nginx) per node. "
            "Anything but active is down.",
            "systemd ActiveState of each watched unit; anything but active is down.",
        ),
        [Query(scope.select(metric("service_active")), scope.legend("{{unit}}"))],
        "none",
        good_from(1),
        mappings=flag_mapping("DOWN", "active"),
        width=scope.pick(3, 8),
        alerts=("RegistryServiceDown",),
        detail_link=scope.detail_link,
    )


def service_starts(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Service starts and restarts",
        scope.pick(
            "Starts of each unit (a new start time) and restarts systemd made itself. "
            "Debian's docker-registry has no Restart=, so a crash and a manual start shows "
            "only as a start. Repeated starts are flapping.",
            "Starts (a new start time) and restarts systemd made itself, per unit.",
        ),
        [
            Query(scope.select(q.SERVICE_STARTS), scope.legend("{{unit}} starts")),
            Query(scope.select(q.SERVICE_RESTARTS), scope.legend("{{unit}} restarts")),
        ],
        "short",
        width=scope.pick(12, 8),
        bars=True,
        alerts=("RegistryServiceFlapping",),
        detail_link=scope.detail_link,
    )


def push_time(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        scope.pick("Push time", "Push (write canary)"),
        scope.pick(
            "Time the active's write canary push took. It rises before pushes of real "
            "images start failing.",
            "Time the write canary's blob push took (active node only; the standby does "
            "not take pushes).",
        ),
        [
            Query(
                scope.select(metric("write_duration_seconds")),
                scope.legend("{{endpoint}}", "{{node}}"),
            )
        ],
        "s",
        width=scope.pick(12, 8),
        alerts=("RegistryWriteFailing",),
        detail_link=scope.detail_link,
    )


def standby_lag(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Standby lag",
        scope.pick(
            "Age of the oldest change on the active that the standby lacks; 0 when in "
            "step. Syncs run every 10 minutes, so a saw-tooth below the first line is "
            "normal. Lines at the alert levels.",
            "Age of the oldest change on the active this standby lacks (0: in step). "
            "Lines at the alert levels.",
        ),
        [Query(scope.select(metric("standby_lag_seconds")), scope.legend("lag", "{{node}}"))],
        "s",
        rising(THRESHOLDS.standby_lag_seconds),
        alerts=("RegistryStandbyLagHigh",),
        detail_link=scope.detail_link,
    )


def standby_missing(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        scope.pick("Standby missing tags", "Standby missing content"),
        scope.pick(
            "What the active has and the standby lacks: missing tags, tags pointing "
            "elsewhere, missing repositories and blobs. Non-zero between syncs is normal; "
            "non-zero after a good sync is not.",
            "What the active has and this standby lacks or holds differently.",
        ),
        [
            Query(scope.select(metric(name)), scope.legend(what))
            for name, what in (
                ("standby_missing_tags", "missing tags"),
                ("standby_mismatched_tags", "mismatched tags"),
                ("standby_missing_repositories", "missing repositories"),
                ("standby_missing_blobs", "missing blobs"),
            )
        ],
        "short",
        alerts=(
            "RegistryStandbyMissingRepositories",
            "RegistryStandbyMissingBlobs",
            "RegistryStandbyMismatchedTags",
        ),
        detail_link=scope.detail_link,
    )


def last_good_sync(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Time since last good sync",
        scope.pick(
            "Time since the standby's rsync last finished well (exit 0, or 24: files "
            "vanished mid-run). Lines at the alert levels.",
            "Time since rsync last finished well. Lines at the alert levels.",
        ),
        [Query(scope.select(q.SYNC_SUCCESS_AGE), scope.legend("last good sync", "{{node}}"))],
        "s",
        rising(THRESHOLDS.sync_success_age_seconds),
        width=scope.pick(12, 8),
        alerts=("RegistrySyncStale",),
        detail_link=scope.detail_link,
    )


def sync_runs(scope: Scope) -> PanelBuilder:
    return timeseries_panel(
        "Sync runs and exit codes",
        scope.pick(
            "1 while the standby's rsync runs (every 10 minutes), and the exit code of "
            "its last run: 0 is good, 24 (files vanished mid-run) is normal on a live "
            "registry, anything else failed.",
            "1 while rsync runs, and the exit code of its last run: 0 good, 24 (files "
            "vanished mid-run) normal, anything else failed. Standby only.",
        ),
        [
            Query(scope.select(metric("sync_running")), scope.legend("running")),
            Query(scope.select(metric("sync_last_exit_code")), scope.legend("last exit code")),
        ],
        "none",
        width=scope.pick(12, 8),
        steps_line=True,
        alerts=("RegistrySyncFailing",),
        detail_link=scope.detail_link,
    )
