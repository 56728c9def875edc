"""The alerts and the dashboards point at each other: what one links, the other has."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from alerts.configure import DEFAULT_RUNBOOK, load, rule_files, rules
from dashboards.panels import RUNBOOK_URL
from tests.support.dashboards import all_dashboards, panels
from tests.support.runbook import runbook_anchors

DASHBOARDS = {d["uid"]: d for d in all_dashboards().values()}
ALERTS = [rule for path in rule_files() for rule in rules(load(path)) if "alert" in rule]


def variables(dashboard: dict[str, Any]) -> set[str]:
    return {v["name"] for v in dashboard["templating"]["list"]}


@pytest.mark.parametrize(
    "rule", ALERTS, ids=[f"{r['alert']}:{r['labels']['severity']}" for r in ALERTS]
)
def test_alert_dashboard_link_sets_only_variables_the_dashboard_has(rule: dict[str, Any]) -> None:
    link = urlsplit(rule["annotations"]["dashboard"])
    uid = link.path.removeprefix("/d/")
    assert uid in DASHBOARDS, link.path
    params = dict(parse_qsl(link.query))
    assert {p.removeprefix("var-") for p in params} <= variables(DASHBOARDS[uid])
    if "cluster" in rule["annotations"]["description"]:
        # an alert about a pair or a node opens the dashboard on that pair
        assert params["var-cluster"] == "{{ $labels.cluster }}"
    if uid == "registry-node-detail":
        assert params["var-node"] == "{{ $labels.node }}"


def test_every_dashboard_has_the_pair_variable_the_alerts_set() -> None:
    for dashboard in DASHBOARDS.values():
        [cluster] = [v for v in dashboard["templating"]["list"] if v["name"] == "cluster"]
        assert cluster["query"] == 'label_values(registry_monitor_node_info{job=~"$job"}, cluster)'
        # one pair at a time; All also matches targets scraped without a pair label
        assert (cluster["multi"], cluster["includeAll"], cluster["allValue"]) == (
            False,
            True,
            ".*",
        )


def test_dashboard_runbook_links_are_the_alerts_runbook_sections() -> None:
    assert RUNBOOK_URL.endswith("/" + DEFAULT_RUNBOOK)
    alert_names = {rule["alert"] for rule in ALERTS}
    anchors = runbook_anchors()
    linked = set()
    for dashboard in DASHBOARDS.values():
        for panel in panels(dashboard):
            for link in panel.get("links", []):
                base, _, anchor = link["url"].partition("#")
                assert base == RUNBOOK_URL
                assert anchor in anchors, link
                assert (
                    link["title"]
                    == f"Runbook: {next(a for a in alert_names if a.lower() == anchor)}"
                )
                linked.add(anchor)
    assert len(linked) >= 25
