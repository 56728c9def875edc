"""Pages from the real pair: Debian's Prometheus scraping both containers' exporters over
the pair's private link, the project's rules (`for:` cut to 10 s), and Alertmanager routed
by alerts/alertmanager.example.yaml (tests/support/realpaging.py). A healthy pair pages
nobody; a fault made with systemd on the real hosts reaches Alertmanager as the page it
should be, with the node's labels, and goes when the fault does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.configure import load, rule_files
from testbed.prometheus import Alertmanager, Prometheus
from testbed.waiting import wait_until
from tests.support.paging import alert_named, paged
from tests.support.realhosts import ACTIVE, STANDBY, RealNode, deb  # noqa: F401
from tests.support.realpaging import CLUSTER, instance, pages, settled, watching
from tests.test_real_host import push
from tests.test_real_pair import (  # the module's own booted pair
    FAST_TIMER,
    TIMER,
    pair,  # noqa: F401
)

pytestmark = [pytest.mark.realhost, pytest.mark.timeout(900)]

REGISTRY_UNIT = "docker-registry.service"
# The pair's timer, every 20 s rather than 3: a sync's run (the guard's start included)
# can take over 3 s on a loaded machine, and RegistrySyncOutlastsPeriod would then be
# right to warn. Still one run soon after each start (OnActiveSec).
CALM_TIMER = FAST_TIMER.replace("OnUnitInactiveSec=3s", "OnUnitInactiveSec=20s")


@pytest.fixture(scope="module")
def watch(
    pair: list[RealNode],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Prometheus, Alertmanager]]:
    standby = pair[1].host
    assert CALM_TIMER != FAST_TIMER
    standby.write(f"/etc/systemd/system/{TIMER}.d/fast.conf", CALM_TIMER)
    standby.systemctl("daemon-reload")
    standby.systemctl("restart", TIMER)
    with watching(pair, tmp_path_factory.mktemp("realpaging")) as started:
        yield started


def roles(prometheus: Prometheus) -> dict[str, str]:
    """node -> role, as registry_monitor_node_info says through the scrapes."""
    return {
        s.labels["node"]: s.labels["role"]
        for s in prometheus.query('registry_monitor_node_info{job="registry-monitor"}')
    }


def in_step(prometheus: Prometheus, standby: RealNode) -> bool:
    """The standby ready for a failover and the canary served by both nodes, both endpoints:
    its first syncs done, and each node's api probe run since (every 30 s)."""
    ready = prometheus.query("registry_monitor_failover_ready")
    canaries = prometheus.query("registry_monitor_manifest_up")
    return [(s.labels["instance"], s.value) for s in ready] == [(instance(standby), 1.0)] and (
        len(canaries) == 4 and all(s.value == 1 for s in canaries)
    )


def resolved(alertmanager: Alertmanager, name: str) -> bool:
    return alert_named(alertmanager.alerts(active="true"), name) is None


def test_a_healthy_real_pair_fires_nothing_and_pages_nobody(
    pair: list[RealNode],  # noqa: F811
    watch: tuple[Prometheus, Alertmanager],
) -> None:
    prometheus, alertmanager = watch
    assert {t["labels"]["instance"]: t["health"] for t in prometheus.targets()} == {
        instance(node): "up" for node in pair
    }
    assert roles(prometheus) == {ACTIVE: "active", STANDBY: "standby"}
    assert {g["name"] for g in prometheus.rule_groups()} == {
        str(g["name"]) for path in rule_files() for g in load(path)["groups"]
    }
    wait_until(lambda: in_step(prometheus, pair[1]), 120, "the standby ready, the canaries up")
    settled(prometheus)
    firing = [a["labels"] for a in prometheus.alerts() if a["state"] == "firing"]
    assert firing == []
    assert pages(alertmanager.alerts(active="true")) == []


def test_the_registry_stopped_on_the_active_pages_for_it(
    pair: list[RealNode],  # noqa: F811
    watch: tuple[Prometheus, Alertmanager],
) -> None:
    _, alertmanager = watch
    active = pair[0]
    active.host.systemctl("stop", REGISTRY_UNIT)
    try:
        page = paged(alertmanager, "RegistryBackendDown", timeout=120)
        cause = paged(alertmanager, "RegistryServiceDown", timeout=120)
    finally:
        active.host.systemctl("start", REGISTRY_UNIT)
    assert page["labels"] == {
        "alertname": "RegistryBackendDown",
        "cluster": CLUSTER,
        "endpoint": "backend",
        "instance": instance(active),
        "job": "registry-monitor",
        "node": ACTIVE,
        "role": "active",
        "severity": "page",
        "team": "registry",
    }
    assert page["receivers"] == [{"name": "registry-page"}]
    # systemd's own facts, read through D-Bus by the exporter on the host: the unit and
    # the state `systemctl stop` left it in
    assert cause["labels"] == {
        "alertname": "RegistryServiceDown",
        "cluster": CLUSTER,
        "instance": instance(active),
        "job": "registry-monitor",
        "node": ACTIVE,
        "role": "active",
        "severity": "warning",
        "team": "registry",
        "unit": REGISTRY_UNIT,
    }
    assert cause["annotations"]["description"] == (
        f"systemd reports {REGISTRY_UNIT} on {ACTIVE} (active, {instance(active)}, pair "
        f"{CLUSTER}) as inactive (LoadState loaded)."
    )
    wait_until(lambda: resolved(alertmanager, "RegistryBackendDown"), 120, "the page resolved")
    wait_until(lambda: resolved(alertmanager, "RegistryServiceDown"), 120, "the unit back")


def test_a_push_on_the_standby_pages_and_so_does_the_guard_refusing_the_sync(
    pair: list[RealNode],  # noqa: F811
    watch: tuple[Prometheus, Alertmanager],
) -> None:
    _, alertmanager = watch
    standby = pair[1]
    standby.host.systemctl("stop", TIMER)  # the next sync would run before it is seen
    try:
        push(standby.host, "pushed-here:v1")
        divergent = paged(alertmanager, "RegistryStandbyDivergent", timeout=120)
    finally:
        standby.host.systemctl("start", TIMER)
    # the timer's next run: the package's ExecStartPre refuses it, systemd records it failed
    refused = paged(alertmanager, "RegistrySyncGuardRefused", timeout=120)
    common = {
        "cluster": CLUSTER,
        "instance": instance(standby),
        "job": "registry-monitor",
        "node": STANDBY,
        "role": "standby",
        "severity": "page",
        "team": "registry",
    }
    assert divergent["labels"] == {"alertname": "RegistryStandbyDivergent", **common}
    assert refused["labels"] == {"alertname": "RegistrySyncGuardRefused", **common}
    assert {a["receivers"][0]["name"] for a in (divergent, refused)} == {"registry-page"}
