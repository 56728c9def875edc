"""What both dashboards share around their panels: settings, variables, links, rows."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    NAMESPACE,
    NODE_DETAIL_UID,
    OVERVIEW_UID,
    TAGS,
    PanelBuilder,
    builtin_annotation,
    cluster_variable,
    dashboard_links,
    datasource_variable,
    instance_variable,
    job_variable,
    scope_variable,
)
from dashboards.scope import Scope

Row = tuple[str, Sequence[PanelBuilder]]


def node_variable() -> builders.QueryVariable:
    return scope_variable(
        "node",
        f'label_values({NAMESPACE}node_info{{job=~"$job",cluster=~"$cluster"}}, node)',
        multi=False,
        description="The registry host (the exporter's `node` setting)",
    )


def dashboard_frame(scope: Scope, title: str, description: str) -> builders.Dashboard:
    """An empty dashboard for the scope: the pair's picks its exporters, one node's its node;
    each links to the other."""
    dashboard = (
        builders.Dashboard(title)
        .uid(scope.pick(OVERVIEW_UID, NODE_DETAIL_UID))
        .description(description)
        .tags(TAGS)
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .with_variable(datasource_variable())
        .with_variable(job_variable())
        .with_variable(cluster_variable())
    )
    if scope.pair:
        dashboard = dashboard.with_variable(instance_variable()).links(
            dashboard_links(NODE_DETAIL_UID, "Node detail")
        )
    else:
        dashboard = (
            dashboard.with_variable(node_variable())
            .with_variable(instance_variable('node="$node"'))
            .links(dashboard_links(OVERVIEW_UID, "Pair overview"))
        )
    return dashboard.annotation(builtin_annotation())


def with_rows(dashboard: builders.Dashboard, rows: Sequence[Row]) -> builders.Dashboard:
    """Each row's header, then its panels (Grafana lays them out left to right)."""
    for title, panels in rows:
        dashboard = dashboard.with_row(builders.Row(title))
        for panel in panels:
            dashboard = dashboard.with_panel(panel)
    return dashboard
