"""Building blocks shared by both dashboards: selectors, variables, panels, links.

Every selector carries `job=~"$job",instance=~"$instance"` and every panel
and query uses the `$datasource` variable, as grafana/dashboard-linter asks;
tests/test_dashboards.py checks the generated JSON against those rules.
Every selector also carries `cluster=~"$cluster"`: the pair label the scrape
config sets and the alert rules group by, so several pairs can share one
Prometheus and an alert's dashboard link (`var-cluster=`) opens its own pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from dashboards.thresholds import Levels

NAMESPACE = "registry_monitor_"
SCOPE = 'job=~"$job",cluster=~"$cluster",instance=~"$instance"'
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

OVERVIEW_UID = "registry-pair-overview"
NODE_DETAIL_UID = "registry-node-detail"
TAGS = ["registry-monitor", "docker-registry"]

# Where people read alerts/RUNBOOK.md; its headings are the alert names, so an
# alert's anchor is its name in lower case. Point it at your own copy and run
# `make dashboards`.
RUNBOOK_URL = (
    "https://gitlab.wikimedia.org/repos/cloud/toolforge/registry-monitor/-/blob/main/"
    "alerts/RUNBOOK.md"
)

GREEN, ORANGE, RED = "green", "orange", "red"

PanelBuilder = cogbuilder.Builder[model.Panel]


def metric(name: str, **labels: str) -> str:
    """A selector of one of our metrics, scoped to the chosen job and instances."""
    matchers = [SCOPE, *(f'{key}="{value}"' for key, value in labels.items())]
    return f"{NAMESPACE}{name}{{{','.join(matchers)}}}"


def with_node(expr: str) -> str:
    """expr with each series' node name and role added (node_info is always 1)."""
    return f"({expr}) * on (job, cluster, instance) group_left (node, role) {metric('node_info')}"


def on_node(expr: str) -> str:
    """expr kept to the exporter of the node picked in the `node` variable."""
    return (
        f"({expr}) * on (job, cluster, instance) group_left () {metric('node_info', node='$node')}"
    )


def runbook(alert: str) -> str:
    return f"{RUNBOOK_URL}#{alert.lower()}"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def targets(queries: Sequence[Query]) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    built: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for index, q in enumerate(queries):
        target = (
            prometheus.Dataquery()
            .datasource(DATASOURCE)
            .ref_id(chr(ord("A") + index))
            .expr(q.expr)
            .legend_format(q.legend or "__auto")
        )
        target = target.instant() if q.instant else target.range()
        if q.table:
            target = target.format(prometheus_model.PromQueryFormat.TABLE)
        built.append(target)
    return built


# Threshold steps: Grafana colours a value by the highest step it reaches.


def rising(levels: Levels) -> list[model.Threshold]:
    """Higher is worse: green, orange from the warning level, red from the critical."""
    return [
        model.Threshold(value=None, color=GREEN),
        model.Threshold(value=levels.warning, color=ORANGE),
        model.Threshold(value=levels.critical, color=RED),
    ]


def falling(levels: Levels) -> list[model.Threshold]:
    """Lower is worse: red below the critical level, orange below the warning."""
    return [
        model.Threshold(value=None, color=RED),
        model.Threshold(value=levels.critical, color=ORANGE),
        model.Threshold(value=levels.warning, color=GREEN),
    ]


def bad_from(value: float) -> list[model.Threshold]:
    """Green below value, red from it on (counts where any is too many)."""
    return [model.Threshold(value=None, color=GREEN), model.Threshold(value=value, color=RED)]


def good_from(value: float) -> list[model.Threshold]:
    """Red below value, green from it on (1 = up)."""
    return [model.Threshold(value=None, color=RED), model.Threshold(value=value, color=GREEN)]


NEUTRAL = [model.Threshold(value=None, color=GREEN)]


def steps(values: list[model.Threshold]) -> builders.ThresholdsConfig:
    return builders.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(values)


def flag_mapping(zero: str, one: str, *, good: int = 1) -> list[model.ValueMapping]:
    """Names for a 0/1 gauge: the `good` value green, the other red."""
    colors = {good: GREEN, 1 - good: RED}
    return [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text=zero, color=colors[0], index=0),
                "1": model.ValueMappingResult(text=one, color=colors[1], index=1),
            }
        )
    ]


def panel_links(*alerts: str) -> list[cogbuilder.Builder[model.DashboardLink]]:
    return [
        builders.DashboardLink(f"Runbook: {alert}").url(runbook(alert)).target_blank(True)
        for alert in alerts
    ]


def node_detail_link() -> builders.DashboardLink:
    """A data link from a series of the overview to its node's detail dashboard."""
    return builders.DashboardLink("Node detail: ${__field.labels.node}").url(
        f"/d/{NODE_DETAIL_UID}/{NODE_DETAIL_UID}?var-node=${{__field.labels.node}}"
        "&${datasource:queryparam}&${job:queryparam}&${cluster:queryparam}&${__url_time_range}"
    )


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    thresholds: list[model.Threshold],
    *,
    width: int = 3,
    height: int = 5,
    mappings: list[model.ValueMapping] | None = None,
    alerts: Sequence[str] = (),
    detail_link: bool = False,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries))
        .unit(unit)
        .thresholds(steps(thresholds))
        .color_scheme(builders.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(width)
        .height(height)
    )
    if mappings:
        panel = panel.mappings(mappings)
    if alerts:
        panel = panel.links(panel_links(*alerts))
    if detail_link:
        panel = panel.data_links([node_detail_link()])
    return panel


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str,
    thresholds: list[model.Threshold] | None = None,
    *,
    width: int = 12,
    height: int = 8,
    alerts: Sequence[str] = (),
    detail_link: bool = False,
    soft_max: float | None = None,
    steps_line: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(queries))
        .unit(unit)
        .axis_soft_min(0)  # soft: an expired certificate's days left still show below 0
        .thresholds(steps(thresholds or NEUTRAL))
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
                if thresholds
                else common.GraphThresholdsStyleMode.OFF
            )
        )
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .line_width(1)
        .fill_opacity(10)
        .span(width)
        .height(height)
    )
    if soft_max is not None:
        panel = panel.axis_soft_max(soft_max)
    if steps_line:
        panel = panel.line_interpolation(common.LineInterpolation.STEP_AFTER)
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    if alerts:
        panel = panel.links(panel_links(*alerts))
    if detail_link:
        panel = panel.data_links([node_detail_link()])
    return panel


@dataclass(frozen=True)
class Column:
    """A value column of a table: its query, header, unit and how it is coloured."""

    query: Query
    header: str
    unit: str
    thresholds: list[model.Threshold] | None = None
    mappings: list[model.ValueMapping] | None = None


def table_panel(
    title: str,
    description: str,
    columns: Sequence[Column],
    *,
    hidden: Sequence[str] = (),
    order: Sequence[str] = (),
    width: int = 24,
    height: int = 7,
    alerts: Sequence[str] = (),
) -> table.Panel:
    """Instant queries with identical labels, merged into one row per label set."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets([c.query for c in columns]))
        .unit("string")
        .thresholds(steps(NEUTRAL))
        .span(width)
        .height(height)
    )
    renames: dict[str, str] = {}
    for index, column in enumerate(columns):
        field = f"Value #{chr(ord('A') + index)}"
        renames[field] = column.header
        properties = [model.DynamicConfigValue(id_val="unit", value=column.unit)]
        if column.thresholds:
            properties += [
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value=model.ThresholdsConfig(
                        mode=model.ThresholdsMode.ABSOLUTE, steps=column.thresholds
                    ),
                ),
            ]
        if column.mappings:
            properties.append(model.DynamicConfigValue(id_val="mappings", value=column.mappings))
        if column.thresholds or column.mappings:
            properties.append(
                model.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                )
            )
        panel = panel.override_by_name(field, properties)
    index_by_name = {name: i for i, name in enumerate([*order, *renames])}
    panel = panel.transformations(
        [
            model.DataTransformerConfig(id_val="merge", options={}),
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": dict.fromkeys(["Time", "__name__", "job", *hidden], True),
                    "indexByName": index_by_name,
                    "renameByName": renames,
                },
            ),
        ]
    )
    if alerts:
        panel = panel.links(panel_links(*alerts))
    return panel


# Variables, as dashboard-linter wants them: `datasource`, then `job` and
# `instance` query variables on it, multi-select, "All" = `.+`, refreshed
# whenever the time range changes.


def datasource_variable() -> builders.DatasourceVariable:
    return builders.DatasourceVariable("datasource").label("Data source").type("prometheus")


def scope_variable(
    name: str, query: str, *, multi: bool = True, description: str = ""
) -> builders.QueryVariable:
    variable = (
        builders.QueryVariable(name)
        .label(name.capitalize())
        .description(description)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".+")
    return variable


def job_variable() -> builders.QueryVariable:
    return scope_variable(
        "job",
        f"label_values({NAMESPACE}node_info, job)",
        description="Prometheus jobs that scrape registry-monitor exporters",
    )


def cluster_variable() -> builders.QueryVariable:
    """The pair: one at a time (an overview of two pairs mixed answers nothing). All is
    `.*`, which also matches series without the label, where the scrape config sets none."""
    return (
        builders.QueryVariable("cluster")
        .label("Pair")
        .description("The registry pair: the `cluster` label the scrape config sets")
        .datasource(DATASOURCE)
        .query(f'label_values({NAMESPACE}node_info{{job=~"$job"}}, cluster)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
    )


def instance_variable(extra_matchers: str = "") -> builders.QueryVariable:
    matchers = 'job=~"$job",cluster=~"$cluster"' + (f",{extra_matchers}" if extra_matchers else "")
    return scope_variable(
        "instance",
        f"label_values({NAMESPACE}node_info{{{matchers}}}, instance)",
        description="Exporters (one per registry host) within the chosen jobs",
    )


class PrometheusAnnotation(cogbuilder.Builder[model.AnnotationQuery]):
    """An annotation from a PromQL query: a mark wherever the query returns a series.

    The SDK's AnnotationQuery has `expr` but not the Prometheus data source's
    step and title/text/tag formats, so this model adds them.
    """

    def __init__(self, name: str, expr: str, color: str, title: str, text: str, tags: str) -> None:
        self._model = _PrometheusAnnotationModel(
            name=name,
            datasource=DATASOURCE,
            enable=True,
            icon_color=color,
            expr=expr,
        )
        self._model.title_format = title
        self._model.text_format = text
        self._model.tag_keys = tags

    def build(self) -> model.AnnotationQuery:
        return self._model


class _PrometheusAnnotationModel(model.AnnotationQuery):
    title_format = ""
    text_format = ""
    tag_keys = ""

    def to_json(self) -> dict[str, object]:
        return {
            **super().to_json(),
            "step": "$__interval",
            "titleFormat": self.title_format,
            "textFormat": self.text_format,
            "tagKeys": self.tag_keys,
            "useValueForTime": False,
        }


def builtin_annotation() -> builders.AnnotationQuery:
    """Grafana's own annotations and alerts, which every dashboard lists first."""
    return (
        builders.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )


def dashboard_links(
    other_uid: str, other_title: str
) -> list[cogbuilder.Builder[model.DashboardLink]]:
    return [
        builders.DashboardLink(other_title)
        .type(model.DashboardLinkType.LINK)
        .url(f"/d/{other_uid}/{other_uid}")
        .icon("dashboard")
        .include_vars(True)
        .keep_time(True),
        builders.DashboardLink("Runbook")
        .type(model.DashboardLinkType.LINK)
        .url(RUNBOOK_URL)
        .icon("doc")
        .target_blank(True),
    ]
