"""The rules against the real thing: a live exporter pair, real Prometheus, real Alertmanager."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from alerts.configure import load, rule_files, rules
from testbed.pair import HealthyPair
from testbed.waiting import wait_until
from tests.support.dashboards import matchers, selectors
from tests.support.metrics import names, samples
from tests.support.paging import alert_named, paged, paging

pytestmark = pytest.mark.daemons

METRIC_NAME = re.compile(r"\bregistry_monitor_[a-z0-9_]+")


def names_in_rules() -> set[str]:
    """Every registry_monitor_* name the rules use, in expressions and annotation templates."""
    found: set[str] = set()
    for path in rule_files():
        for rule in rules(load(path)):
            texts = [str(rule["expr"]), *map(str, rule.get("annotations", {}).values())]
            found.update(m for text in texts for m in METRIC_NAME.findall(text))
    return found


def group_names() -> set[str]:
    """The rule groups alerts/ defines: every one must be loaded."""
    return {str(g["name"]) for path in rule_files() for g in load(path)["groups"]}


def threshold_records() -> int:
    """How many registry_monitor:threshold series alerts/ records."""
    return sum(
        rule.get("record") == "registry_monitor:threshold"
        for path in rule_files()
        for rule in rules(load(path))
    )


@pytest.fixture
def pair(tmp_path: Path, ca: trustme.CA) -> Iterator[HealthyPair]:
    with HealthyPair(tmp_path / "pair", ca) as started:  # every probe has read once
        yield started


def test_rules_use_only_names_a_live_exporter_pair_emits(pair: HealthyPair) -> None:
    emitted: set[str] = set()
    for node in pair.nodes:
        assert node.exporter is not None
        emitted |= names(node.exporter.metrics_text())
    used = names_in_rules()
    assert "registry_monitor_api_up" in used  # the collection itself works
    missing = sorted(used - emitted)
    assert missing == [], "used by the rules, emitted by neither node: " + ", ".join(missing)


# Labels Prometheus adds to every series of a target: not the exporter's to emit.
TARGET_LABELS = {"job", "cluster", "instance"}


def label_matchers_in_rules() -> set[tuple[str, str, str]]:
    """(metric, label, value) of every equality matcher on an exporter metric in the rules."""
    found: set[tuple[str, str, str]] = set()
    for path in rule_files():
        for rule in rules(load(path)):
            for selector in selectors(str(rule["expr"])):
                m = matchers(selector)
                _, name = m.get("__name__", ("", ""))
                if not name.startswith("registry_monitor_"):
                    continue
                for label, (op, value) in m.items():
                    if op == "Equal" and label != "__name__" and label not in TARGET_LABELS:
                        found.add((name, label, value))
    return found


def test_rules_match_only_label_values_a_live_exporter_pair_emits(pair: HealthyPair) -> None:
    emitted: set[tuple[str, str, str]] = set()
    for node in pair.nodes:
        assert node.exporter is not None
        for name, labels in samples(node.exporter.metrics_text()):
            emitted.update((name, label, value) for label, value in labels)
    used = label_matchers_in_rules()
    assert ("registry_monitor_storage_uploads", "state", "stale") in used
    missing = sorted(used - emitted)
    assert missing == [], f"matched by the rules, emitted by neither node: {missing}"


@pytest.fixture
def fast_pair(tmp_path: Path, ca: trustme.CA) -> Iterator[HealthyPair]:
    fast = {"intervals": {"api": 1, "write": 1}, "timeouts": {"api": 1, "write": 1}}
    with HealthyPair(
        tmp_path / "pair", ca, active_name="e2e-active", standby_name="e2e-standby", config=fast
    ) as started:
        yield started


def test_stopped_registry_pages_through_alertmanager(
    fast_pair: HealthyPair, tmp_path: Path
) -> None:
    """Stop the active's registry: RegistryBackendDown reaches Alertmanager's paging route."""
    with paging(fast_pair, tmp_path) as (prometheus, alertmanager):
        # Healthy first: the rules are loaded and the pair is seen, nothing pages.
        thresholds = threshold_records()
        wait_until(
            lambda: prometheus.query("count(registry_monitor:threshold)")[0].value == thresholds,
            30,
            f"the {thresholds} threshold recording rules",
        )
        assert {g["name"] for g in prometheus.rule_groups()} == group_names()
        up = prometheus.query('registry_monitor_api_up{endpoint="backend"}')
        assert sorted((s.labels["instance"], s.value) for s in up) == sorted(
            (node.instance, 1.0) for node in fast_pair.nodes
        )
        assert alert_named(alertmanager.alerts(), "RegistryBackendDown") is None

        fast_pair.active.registry.stop()

        page = paged(alertmanager, "RegistryBackendDown")
        assert page["labels"] == {
            "alertname": "RegistryBackendDown",
            "cluster": "e2e",
            "endpoint": "backend",
            "instance": fast_pair.active.instance,
            "job": "registry-monitor",
            "node": "e2e-active",
            "role": "active",
            "severity": "page",
            "team": "registry",
        }
        assert (
            page["annotations"]["summary"] == "Registry backend on active e2e-active is down #page"
        )
        assert page["annotations"]["runbook_url"] == "alerts/RUNBOOK.md#registrybackenddown"
        assert [r["name"] for r in page["receivers"]] == ["registry-page"]
        assert page["status"]["state"] == "active"

        # The failing push canary pages too, but Alertmanager holds it back:
        # the backend being down is the cause.
        write = wait_until(
            lambda: alert_named(alertmanager.alerts(), "RegistryWriteFailing"),
            60,
            "RegistryWriteFailing at Alertmanager",
        )
        assert write["status"]["state"] == "suppressed"
        assert write["status"]["inhibitedBy"] == [page["fingerprint"]]
        # the standby's registry still runs: nothing about it
        assert [
            a["labels"]["alertname"]
            for a in alertmanager.alerts()
            if a["labels"].get("node") == "e2e-standby"
            and a["labels"]["alertname"].startswith("RegistryBackend")
        ] == []
