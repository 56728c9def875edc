"""The committed dashboards: generated, provisionable, linted as grafana/dashboard-linter
would (its Go binary has no package here, so its rules are mirrored), coloured as the alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import promql_parser
import pytest
import yaml
from grafana_foundation_sdk.models import units

from dashboards import build
from dashboards.panels import RUNBOOK_URL
from dashboards.thresholds import DANGLING_REFERENCES_CRITICAL, THRESHOLDS
from registry_monitor.config import Thresholds
from tests.support.dashboards import (
    DASHBOARDS_DIR,
    FILES,
    RATE_INTERVAL,
    Target,
    all_dashboards,
    all_targets,
    annotations,
    lint_parse,
    load,
    matchers,
    panels,
    query_variables,
    range_functions,
    selectors,
    short,
    variable,
    variable_selector,
)

OVERVIEW, NODE_DETAIL = FILES
DASHBOARDS = all_dashboards()
TARGETS = all_targets()
VALID_UNITS = {v for k, v in vars(units).items() if not k.startswith("_") and isinstance(v, str)}
DATASOURCE_UIDS = {"$datasource", "${datasource}"}


def every_query() -> list[tuple[str, str]]:
    """(where, expr) of every panel target and every PromQL annotation."""
    found = [(t.id, t.expr) for t in TARGETS]
    for name, dashboard in DASHBOARDS.items():
        found += [
            (f"{short(name)}:annotation {a['name']}", a["expr"]) for a in annotations(dashboard)
        ]
    return found


QUERIES = every_query()
QUERY_IDS = [where for where, _ in QUERIES]


# --- generated, committed, provisionable ---------------------------------------------


def test_committed_json_is_what_the_generator_writes() -> None:
    written = build.rendered()
    assert sorted(written) == sorted(FILES)
    for name, text in written.items():
        committed = (DASHBOARDS_DIR / name).read_text()
        assert committed == text, f"dashboards/{name} is stale: run `make dashboards`"


@pytest.mark.parametrize("name", FILES)
def test_raw_dashboard_json_with_sorted_keys(name: str) -> None:
    text = (DASHBOARDS_DIR / name).read_text()
    data = json.loads(text)
    # the dashboard model itself, as file provisioning wants it, not a resource manifest
    assert not {"apiVersion", "kind", "spec", "metadata"} & set(data)
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
    assert data["schemaVersion"] == 41


def test_uids_titles_and_tags() -> None:
    assert {n: (d["uid"], d["title"]) for n, d in DASHBOARDS.items()} == {
        OVERVIEW: ("registry-pair-overview", "Registry pair overview"),
        NODE_DETAIL: ("registry-node-detail", "Registry node detail"),
    }
    for dashboard in DASHBOARDS.values():
        assert dashboard["tags"] == ["registry-monitor", "docker-registry"]


def test_provisioning_file_loads_this_directory() -> None:
    config = yaml.safe_load((DASHBOARDS_DIR / "provisioning.yaml").read_text())
    assert config["apiVersion"] == 1
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["name"] == "registry-monitor"
    assert provider["folder"] == "Registry"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/registry-monitor"
    assert provider["options"]["foldersFromFilesStructure"] is False
    assert provider["allowUiUpdates"] is False


def test_dashboards_link_each_other_and_the_runbook() -> None:
    links = {n: {link["title"]: link for link in d["links"]} for n, d in DASHBOARDS.items()}
    assert links[OVERVIEW]["Node detail"]["url"] == "/d/registry-node-detail/registry-node-detail"
    assert links[NODE_DETAIL]["Pair overview"]["url"] == (
        "/d/registry-pair-overview/registry-pair-overview"
    )
    for name in FILES:
        assert links[name]["Runbook"]["url"] == RUNBOOK_URL
        assert RUNBOOK_URL.endswith("/alerts/RUNBOOK.md")
        other = next(link for title, link in links[name].items() if title != "Runbook")
        assert (other["includeVars"], other["keepTime"]) == (True, True)


def test_panel_runbook_links_point_at_alert_anchors() -> None:
    seen = 0
    for dashboard in DASHBOARDS.values():
        for panel in panels(dashboard):
            for link in panel.get("links", []):
                alert = link["title"].removeprefix("Runbook: ")
                assert alert.startswith("Registry"), link
                assert link["url"] == f"{RUNBOOK_URL}#{alert.lower()}"
                seen += 1
    assert seen >= 30


def test_overview_series_link_to_their_node_detail() -> None:
    panel = next(p for p in panels(DASHBOARDS[OVERVIEW]) if p["title"] == "Disk used")
    [link] = panel["fieldConfig"]["defaults"]["links"]
    assert link["url"].startswith(
        "/d/registry-node-detail/registry-node-detail?var-node=${__field.labels.node}&"
    )


# --- dashboard-linter's rules, mirrored ---------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_template_datasource_rule(name: str) -> None:
    datasources = [v for v in DASHBOARDS[name]["templating"]["list"] if v["type"] == "datasource"]
    assert [(v["name"], v["label"], v["query"]) for v in datasources] == [
        ("datasource", "Data source", "prometheus")
    ]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("var", ["job", "instance"])
def test_template_job_and_instance_rules(name: str, var: str) -> None:
    v = variable(DASHBOARDS[name], var)
    assert v["type"] == "query"
    assert v["datasource"]["uid"] in DATASOURCE_UIDS
    assert v["label"] == var.capitalize()
    assert (v["multi"], v["includeAll"], v["allValue"]) == (True, True, ".+")


@pytest.mark.parametrize("name", FILES)
def test_template_on_time_change_reload_rule(name: str) -> None:
    for v in query_variables(DASHBOARDS[name]):
        assert v["refresh"] == 2, v["name"]


@pytest.mark.parametrize("name", FILES)
def test_template_label_promql_rule(name: str) -> None:
    for v in query_variables(DASHBOARDS[name]):
        selector, label = variable_selector(v["query"])
        assert label.isidentifier()
        assert isinstance(lint_parse(selector), promql_parser.VectorSelector), v["query"]


def test_node_detail_picks_one_node_and_its_instances() -> None:
    node = variable(DASHBOARDS[NODE_DETAIL], "node")
    assert (node["multi"], node["includeAll"]) == (False, False)
    assert node["query"] == (
        'label_values(registry_monitor_node_info{job=~"$job",cluster=~"$cluster"}, node)'
    )
    instance = variable(DASHBOARDS[NODE_DETAIL], "instance")
    assert 'node="$node"' in instance["query"]


@pytest.mark.parametrize("name", FILES)
def test_panel_datasource_rule(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        assert panel["datasource"]["uid"] in DATASOURCE_UIDS, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in DATASOURCE_UIDS, panel["title"]
    for annotation in annotations(DASHBOARDS[name]):
        assert annotation["datasource"]["uid"] in DATASOURCE_UIDS


@pytest.mark.parametrize("name", FILES)
def test_panel_title_description_and_units_rules(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        assert panel["title"] and panel["description"], panel
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit") in VALID_UNITS, (panel["title"], defaults.get("unit"))
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in VALID_UNITS, (panel["title"], prop)


@pytest.mark.parametrize("name", FILES)
def test_panel_no_targets_rule_and_layout(name: str) -> None:
    ids = [p["id"] for p in DASHBOARDS[name]["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    for panel in DASHBOARDS[name]["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert [t["refId"] for t in panel["targets"]] == [
                chr(ord("A") + i) for i in range(len(panel["targets"]))
            ]


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=QUERY_IDS)
def test_target_promql_and_job_instance_rules(where: str, expr: str) -> None:
    found = selectors(expr)
    assert found, f"{where}: no selector"
    for selector in found:
        m = matchers(selector)
        assert m.get("job") == ("Re", "$job"), f"{where}: {selector}"
        assert m.get("instance") == ("Re", "$instance"), f"{where}: {selector}"
        # and the pair, as the alerts' dashboard links pick it (var-cluster)
        assert m.get("cluster") == ("Re", "$cluster"), f"{where}: {selector}"


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=QUERY_IDS)
def test_target_rate_interval_rule(where: str, expr: str) -> None:
    for function, window in range_functions(expr):
        if function in ("rate", "irate", "increase"):
            assert window == RATE_INTERVAL, f"{where}: {function} over {window}"


# The mirrored rules must catch what dashboard-linter catches.


def test_the_mirrored_rules_catch_bad_queries() -> None:
    assert range_functions("rate(x[5m])") == [("rate", timedelta(minutes=5))]
    assert range_functions("increase(x[$__rate_interval])") == [("increase", RATE_INTERVAL)]
    [selector] = selectors('x{job=~"$job"}')
    assert "instance" not in matchers(selector)
    nested = selectors('sum(rate(a{job=~"$job",instance=~"$instance"}[1m])) / on () b')
    assert [matchers(s).get("job") for s in nested] == [("Re", "$job"), None]
    with pytest.raises(ValueError):
        lint_parse("sum(rate(x[5m])")


def test_every_target_is_linted() -> None:
    assert len(TARGETS) >= 60
    assert all(isinstance(t, Target) and t.expr for t in TARGETS)


# --- thresholds: the config's, as the check and the alerts use them --------------------


def test_panels_colour_at_the_config_defaults() -> None:
    assert Thresholds() == THRESHOLDS
    assert DANGLING_REFERENCES_CRITICAL == 1


def _rising(name: str) -> list[tuple[float | None, str]]:
    levels = getattr(Thresholds(), name)
    return [(None, "green"), (levels.warning, "orange"), (levels.critical, "red")]


def _falling(name: str, used_share: bool = False) -> list[tuple[float | None, str]]:
    levels = getattr(Thresholds(), name)
    warning, critical = levels.warning, levels.critical
    if used_share:  # the panel shows the free share
        warning, critical = 100 - warning, 100 - critical
    return [(None, "red"), (critical, "orange"), (warning, "green")]


UP = [(None, "red"), (1, "green")]
ANY_IS_BAD = [(None, "green"), (1, "red")]

EXPECTED_STEPS: dict[tuple[str, str], list[tuple[float | None, str]]] = {
    (OVERVIEW, "API up"): UP,
    (OVERVIEW, "Error ratio against the objective"): [(None, "green"), (0.01, "red")],
    (OVERVIEW, "Manifest read latency"): [(None, "green"), (2, "red")],
    (OVERVIEW, "Error budget left (30 days)"): [(None, "red"), (0, "green")],
    (OVERVIEW, "Services"): UP,
    (OVERVIEW, "Push works"): UP,
    (OVERVIEW, "Certificate days left"): _falling("cert_days_left"),
    (OVERVIEW, "Standby lag"): _rising("standby_lag_seconds"),
    (OVERVIEW, "Last good sync"): _rising("sync_success_age_seconds"),
    (OVERVIEW, "Dangling references"): ANY_IS_BAD,
    (OVERVIEW, "Disk used"): _rising("disk_used_percent"),
    (OVERVIEW, "Disk used and forecast"): _rising("disk_used_percent"),
    (OVERVIEW, "Free inodes"): _falling("disk_inodes_used_percent", used_share=True),
    (OVERVIEW, "API latency"): _rising("api_latency_seconds"),
    (OVERVIEW, "Time since last good sync"): _rising("sync_success_age_seconds"),
    (NODE_DETAIL, "Disk used and forecast"): _rising("disk_used_percent"),
    (NODE_DETAIL, "Free inodes"): _falling("disk_inodes_used_percent", used_share=True),
    (NODE_DETAIL, "API latency"): _rising("api_latency_seconds"),
    (NODE_DETAIL, "Certificate days left"): _falling("cert_days_left"),
    (NODE_DETAIL, "Time since last good sync"): _rising("sync_success_age_seconds"),
    (NODE_DETAIL, "Standby lag"): _rising("standby_lag_seconds"),
    (NODE_DETAIL, "Data faults"): ANY_IS_BAD,
}


def _steps(config: dict[str, Any]) -> list[tuple[float | None, str]]:
    return [(s["value"], s["color"]) for s in config["steps"]]


@pytest.mark.parametrize(
    ("name", "title"), list(EXPECTED_STEPS), ids=[f"{short(n)}:{t}" for n, t in EXPECTED_STEPS]
)
def test_panel_thresholds_are_the_alert_thresholds(name: str, title: str) -> None:
    found = [p for p in panels(load(name)) if p["title"] == title]
    assert found, f"no panel {title!r} in {name}"
    for panel in found:
        assert (
            _steps(panel["fieldConfig"]["defaults"]["thresholds"]) == EXPECTED_STEPS[(name, title)]
        )
        if panel["type"] == "timeseries":  # drawn as lines at those levels
            assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {
                "mode": "dashed"
            }


def test_certificate_table_colours_days_left_as_the_alerts() -> None:
    table = next(p for p in panels(DASHBOARDS[OVERVIEW]) if p["title"] == "Certificates")
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in table["fieldConfig"]["overrides"]
    }
    days = {p["id"]: p["value"] for p in overrides["Value #B"]}
    assert days["unit"] == "d"
    assert _steps(days["thresholds"]) == _falling("cert_days_left")
    organize = table["transformations"][1]["options"]
    assert organize["renameByName"] == {
        "Value #A": "Not after",
        "Value #B": "Days left",
        "Value #C": "Valid",
        "Value #D": "Matches file",
    }


def test_panels_coloured_at_a_level_are_all_checked() -> None:
    """Every panel coloured at a level other than up/down (1) is in EXPECTED_STEPS."""
    for name, dashboard in DASHBOARDS.items():
        for panel in panels(dashboard):
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            if {s["value"] for s in steps} - {None, 1}:
                assert (name, panel["title"]) in EXPECTED_STEPS, panel["title"]
