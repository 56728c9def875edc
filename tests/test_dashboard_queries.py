"""Every dashboard query on a real Prometheus scraping a real, healthy active/standby pair.

The pair (testbed/pair.py) is two real registries behind real nginx with TLS,
each watched by a real registry-exporter; Prometheus scrapes both every
second. Queries run as Grafana would send them, its variables substituted:
All (`.+`) for job and instance, each node in turn for the node detail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import trustme

from testbed.pair import HealthyPair
from testbed.prometheus import JOB, Prometheus, Sample, Series, static_scrape_config
from testbed.waiting import wait_until
from tests.support.dashboards import (
    FILES,
    Target,
    all_dashboards,
    all_targets,
    annotations,
    metric_names,
    panels,
    query_variables,
    short,
    substitute,
    variable,
    variable_selector,
)
from tests.support.metrics import names, value

pytestmark = pytest.mark.daemons

OVERVIEW, NODE_DETAIL = FILES
DASHBOARDS = all_dashboards()
TARGETS = all_targets()
TARGET_IDS = [t.id for t in TARGETS]
ALL = ".+"  # what Grafana puts in for "All" of job and instance (their allValue)
CLUSTER = "registry-test"  # the pair label the scrape config sets, as the alerts expect

# Grafana's $__interval for a short range, and $__rate_interval as Grafana
# derives it from a 1 s scrape interval (max(interval + scrape, 4 * scrape)),
# rounded up so a busy test machine still has samples in every window.
GRAFANA_DURATIONS = {"__interval": "2s", "__rate_interval": "10s", "__range": "1m"}
RANGE_SECONDS, STEP_SECONDS = 6, 2


ROLE_MATCHER = re.compile(r'registry_monitor_node_info\{[^}]*\brole="(\w+)"')


@dataclass
class Live:
    pair: HealthyPair
    prometheus: Prometheus
    emitted: dict[str, set[str]]  # node name -> metric names its exporter emits
    healthy_at: float  # a time when every sample came from the healthy pair

    def values(self, node: str | None = None) -> dict[str, str]:
        values = {"job": ALL, "cluster": CLUSTER, "instance": ALL, **GRAFANA_DURATIONS}
        if node is not None:
            values["node"] = node
        return values

    def nodes_emitting(self, expr: str) -> set[str]:
        """Nodes whose exporter emits every metric expr reads, of the role it keeps to (a
        `node_info{role="..."}` matcher) if any: where it must find data."""
        wanted = metric_names(expr)
        roles = set(ROLE_MATCHER.findall(expr))
        role_of = {node.name: node.role for node in self.pair.nodes}
        return {
            node
            for node, emitted in self.emitted.items()
            if wanted <= emitted and (not roles or role_of[node] in roles)
        }

    def instant(self, expr: str) -> list[Sample]:
        return self.prometheus.query(expr, time=self.healthy_at)

    def range(self, expr: str) -> list[Series]:
        end = self.healthy_at
        return self.prometheus.query_range(expr, end - RANGE_SECONDS, end, STEP_SECONDS)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[Live]:
    # Services and disk probed every second, so a restart shows within a scrape or two.
    fast = {
        "intervals": {"services": 1, "disk": 1},
        "timeouts": {"services": 1, "disk": 1},
    }
    pair = HealthyPair(tmp_path_factory.mktemp("pair"), ca, config=fast).start()
    prometheus: Prometheus | None = None
    try:
        emitted = {n.name: names(n.exporter.metrics_text()) for n in pair.nodes if n.exporter}
        prometheus = Prometheus(
            tmp_path_factory.mktemp("prometheus"),
            [static_scrape_config(JOB, [n.instance for n in pair.nodes], {"cluster": CLUSTER})],
        )
        prometheus.start()
        prometheus.wait_targets_up()
        scrapes = f'count_over_time(registry_monitor_node_info{{job="{JOB}"}}[1m]) >= 20'
        wait_until(lambda: len(prometheus.query(scrapes)) == 2, 60, "20 scrapes of each exporter")
        yield Live(pair, prometheus, emitted, healthy_at=time.time())
    finally:
        if prometheus is not None:
            prometheus.stop()
        pair.stop()


def series_nodes(result: list[Sample] | list[Series]) -> set[str]:
    return {r.labels["node"] for r in result}


# --- names ------------------------------------------------------------------------------


def every_expr() -> list[tuple[str, str]]:
    found = [(t.id, t.expr) for t in TARGETS]
    for name, dashboard in DASHBOARDS.items():
        found += [
            (f"{short(name)}:annotation {a['name']}", a["expr"]) for a in annotations(dashboard)
        ]
        found += [
            (f"{short(name)}:variable {v['name']}", variable_selector(v["query"])[0])
            for v in query_variables(dashboard)
        ]
    return found


EXPRS = every_expr()


@pytest.mark.parametrize(("where", "expr"), EXPRS, ids=[w for w, _ in EXPRS])
def test_query_reads_only_metrics_a_live_exporter_emits(live: Live, where: str, expr: str) -> None:
    emitted = set().union(*live.emitted.values())
    assert metric_names(expr) - emitted == set(), where


# --- panels -------------------------------------------------------------------------------


def node_values(live: Live, dashboard: str) -> list[str | None]:
    """Values of the node variable to run a query with (the overview has none)."""
    if dashboard == NODE_DETAIL:
        return [live.pair.active.name, live.pair.standby.name]
    return [None]


def legend_labels(target: Target) -> set[str]:
    """The labels the target's legend shows ({{node}} ({{role}}), say)."""
    found = next(t for t in target.panel["targets"] if t["refId"] == target.ref)
    return set(re.findall(r"\{\{\s*(\w+)\s*\}\}", found.get("legendFormat", "")))


@pytest.mark.parametrize("target", TARGETS, ids=TARGET_IDS)
def test_query_runs_on_prometheus(live: Live, target: Target) -> None:
    """Prometheus accepts the query (an error raises PrometheusError) without a warning,
    and every series it returns has the labels the legend names (else a blank legend)."""
    wanted = legend_labels(target)
    for node in node_values(live, target.dashboard):
        expr = substitute(target.expr, live.values(node))
        assert live.prometheus.notes(expr, time=live.healthy_at) == [], expr
        results: list[Sample] | list[Series] = live.instant(expr)
        if not target.instant:
            results = live.range(expr)
        assert [r.labels for r in results if not wanted <= r.labels.keys()] == [], wanted


@pytest.mark.parametrize("target", TARGETS, ids=TARGET_IDS)
def test_query_shows_every_node_that_has_the_data(live: Live, target: Target) -> None:
    expected = live.nodes_emitting(target.expr)
    if target.dashboard == OVERVIEW:
        # one view of the pair: a series for each node that emits what it reads
        expr = substitute(target.expr, live.values())
        assert expected, f"no exporter emits {sorted(metric_names(target.expr))}"
        assert series_nodes(live.instant(expr)) == expected
        if not target.instant:
            assert series_nodes(live.range(expr)) == expected
        return
    # node detail: data for the picked node exactly when its exporter emits it
    assert expected, f"no exporter emits {sorted(metric_names(target.expr))}"
    for node in node_values(live, target.dashboard):
        assert node is not None
        expr = substitute(target.expr, live.values(node))
        found = bool(live.instant(expr)) and (target.instant or bool(live.range(expr)))
        assert found == (node in expected), f"{node}: data {found}, expected {node in expected}"


def colour(panel: dict[str, Any], value: float) -> str:
    """The colour Grafana gives value: a value mapping's, else the highest step reached."""
    defaults = panel["fieldConfig"]["defaults"]
    for mapping in defaults.get("mappings", []):
        hit = mapping["options"].get(f"{value:g}")
        if hit and hit.get("color"):
            return str(hit["color"])
    steps = defaults["thresholds"]["steps"]
    found = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            found = step["color"]
    return str(found)


STATS = [
    (name, panel) for name in FILES for panel in panels(DASHBOARDS[name]) if panel["type"] == "stat"
]


@pytest.mark.parametrize(
    ("name", "panel"), STATS, ids=[f"{short(n)}:{p['title']}" for n, p in STATS]
)
def test_stats_are_green_on_a_healthy_pair(live: Live, name: str, panel: dict[str, Any]) -> None:
    shown = []
    for node in node_values(live, name):
        for target in panel["targets"]:
            for sample in live.instant(substitute(target["expr"], live.values(node))):
                shown.append((sample.labels, sample.value, colour(panel, sample.value)))
    assert shown, "nothing to show"
    assert [s for s in shown if s[2] != "green"] == []


# --- certificate table ----------------------------------------------------------------------


def test_certificate_table_rows_line_up(live: Live) -> None:
    table = next(p for p in panels(DASHBOARDS[OVERVIEW]) if p["title"] == "Certificates")
    columns = {}
    for target in table["targets"]:
        result = live.instant(substitute(target["expr"], live.values()))
        columns[target["refId"]] = {frozenset(r.labels.items()): r.value for r in result}
    rows = set(columns["A"])
    # the merge joins on all labels: the value columns must share their label sets
    assert set(columns["B"]) == set(columns["C"]) == rows
    served = {r for r in rows if dict(r)["source"] == "served"}
    assert set(columns["D"]) == served
    assert sorted((dict(r)["node"], dict(r)["source"]) for r in rows) == [
        (live.pair.active.name, "file"),
        (live.pair.active.name, "served"),
        (live.pair.standby.name, "file"),
        (live.pair.standby.name, "served"),
    ]
    not_after_ms = live.pair.certificate.not_after.timestamp() * 1000
    for row in rows:
        assert columns["A"][row] == not_after_ms
        assert 59 < columns["B"][row] < 60  # issued an hour ago for 60 days
        assert columns["C"][row] == 1
        assert dict(row)["fingerprint_sha256"] == live.pair.certificate.fingerprint_sha256
    assert set(columns["D"].values()) == {1.0}


# --- variables ------------------------------------------------------------------------------


def label_values(
    live: Live, dashboard: str, name: str, node: str | None = None, cluster: str = CLUSTER
) -> list[str]:
    selector, label = variable_selector(variable(DASHBOARDS[dashboard], name)["query"])
    values = live.values(node) | {"cluster": cluster}
    return sorted(live.prometheus.label_values(label, substitute(selector, values)))


def test_variables_list_the_pair(live: Live) -> None:
    active, standby = live.pair.active, live.pair.standby
    for name in FILES:
        assert label_values(live, name, "job") == [JOB]
        assert label_values(live, name, "cluster") == [CLUSTER]
    # another pair's name lists nothing of this one; All (.*) lists it
    assert label_values(live, OVERVIEW, "instance", cluster="other-pair") == []
    assert label_values(live, NODE_DETAIL, "node", cluster="other-pair") == []
    assert label_values(live, OVERVIEW, "instance", cluster=".*") == sorted(
        [active.instance, standby.instance]
    )
    assert label_values(live, OVERVIEW, "instance") == sorted([active.instance, standby.instance])
    assert label_values(live, NODE_DETAIL, "node") == sorted([active.name, standby.name])
    assert label_values(live, NODE_DETAIL, "instance", active.name) == [active.instance]
    assert label_values(live, NODE_DETAIL, "instance", standby.name) == [standby.instance]


# --- the pair itself ------------------------------------------------------------------------


def test_the_standby_reads_the_sync_run_that_filled_it(live: Live) -> None:
    """The pair's sync unit shows its run as systemd would, so the real sync probe reads it."""
    sync = live.pair.sync
    assert sync.last_exit is not None and sync.last_start is not None
    code, ended = sync.last_exit
    assert code == 0
    exporter = live.pair.standby.exporter
    assert exporter is not None
    text = exporter.metrics_text()
    assert value(text, "registry_monitor_sync_last_exit_code") == 0
    assert value(text, "registry_monitor_sync_running") == 0
    assert value(text, "registry_monitor_sync_timer_active") == 1
    # through systemd's realtime timestamps (--timestamp=unix): the whole seconds it shows
    assert value(text, "registry_monitor_sync_last_run_timestamp_seconds") == int(sync.last_start)
    assert value(text, "registry_monitor_sync_last_success_timestamp_seconds") == int(ended)
    assert value(text, "registry_monitor_standby_lag_seconds") == 0


# --- annotations ----------------------------------------------------------------------------


def overview_annotation(name: str) -> str:
    return next(a["expr"] for a in annotations(DASHBOARDS[OVERVIEW]) if a["name"] == name)


@pytest.mark.parametrize("name", [a["name"] for a in annotations(DASHBOARDS[OVERVIEW])])
def test_annotations_mark_nothing_on_a_healthy_pair(live: Live, name: str) -> None:
    assert live.range(substitute(overview_annotation(name), live.values())) == []


def test_a_service_start_is_annotated(live: Live) -> None:
    """Last: it restarts nginx on the active (as far as systemd tells) for good."""
    expr = substitute(overview_annotation("Service restarts"), live.values())
    live.pair.active.systemd.set_unit("nginx.service", "active", started_at=time.time())

    def marked() -> list[tuple[str, str]]:
        return sorted((r.labels["node"], r.labels["unit"]) for r in live.prometheus.query(expr))

    assert wait_until(marked, 30, "the start annotated") == [
        (live.pair.active.name, "nginx.service")
    ]
