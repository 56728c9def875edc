"""Pair overview panels for the erasure paths: where the public name points, content only
the standby has, the sync on the active, and sync runs against the timer's period."""

from __future__ import annotations

from dashboards.panels import PanelBuilder, Query, bad_from, metric, timeseries_panel, with_node
from dashboards.scope import NODE_ROLE, on_role


def erasure_row() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Where the public name points",
            "1 on the node whose public_addresses the public name resolves to (the node's own "
            "resolver, on the api probe's interval); 0 elsewhere. It must be 1 on the active "
            "only: on the standby, pushes land where the next sync erases them; 0 on both, "
            "clients reach neither node. Absent on a node not told its public_addresses.",
            [Query(with_node(metric("public_name_points_here")), NODE_ROLE)],
            "none",
            steps_line=True,
            alerts=("RegistryPublicNameOnStandby", "RegistryPublicNameElsewhere"),
            detail_link=True,
        ),
        timeseries_panel(
            "Content only the standby has",
            "Tags (and repositories the active lacks) pushed to the standby since the last "
            "sync began: the next rsync --delete erases them. Tags the active deleted since "
            "the last sync and the write canary are not counted. Also the standby's uploads "
            "in progress: someone pushing to it now. Anything above 0 is data about to be lost.",
            [
                Query(with_node(metric("standby_divergent_tags")), "{{node}} divergent tags"),
                Query(
                    with_node(metric("standby_divergent_repositories")),
                    "{{node}} divergent repositories",
                ),
                Query(
                    on_role(metric("storage_uploads", state="active"), "standby"),
                    "{{node}} uploads in progress",
                ),
            ],
            "short",
            bad_from(1),
            alerts=("RegistryStandbyDivergent", "RegistryStandbyUploadsActive"),
            detail_link=True,
        ),
        timeseries_panel(
            "Sync on the active",
            "The sync timer active, or a run going, on the node whose role is active: each "
            "run pulls from the other node with --delete and erases this node's new pushes. "
            "Must stay 0; on the standby the same figures are the normal schedule.",
            [
                Query(
                    on_role(metric("sync_timer_active"), "active"),
                    "{{node}} timer active",
                ),
                Query(
                    on_role(metric("sync_running"), "active"),
                    "{{node}} running",
                ),
            ],
            "none",
            bad_from(1),
            steps_line=True,
            alerts=("RegistrySyncOnActive",),
            detail_link=True,
        ),
        timeseries_panel(
            "Sync run time against its period",
            "How long the last sync run took, against the timer's period (OnUnitActiveSec=): "
            "a run longer than the period delays every later one, and the standby's lag "
            "grows run after run.",
            [
                Query(with_node(metric("sync_last_duration_seconds")), "{{node}} last run"),
                Query(with_node(metric("sync_timer_period_seconds")), "{{node}} period"),
            ],
            "s",
            alerts=("RegistrySyncOutlastsPeriod",),
            detail_link=True,
        ),
    ]
