"""alerts/alertmanager.example.yaml: amtool's checks and routes, inhibitions in a real Alertmanager."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.configure import ALERTS_DIR
from testbed.prometheus import Alertmanager
from testbed.waiting import wait_until

CONFIG = ALERTS_DIR / "alertmanager.example.yaml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["amtool", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_amtool_check_config() -> None:
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr  # amtool's verdict
    assert str(CONFIG) in done.stdout  # this file was the one checked
    doc = yaml.safe_load(CONFIG.read_text())
    assert (len(doc["inhibit_rules"]), len(doc["receivers"])) == (5, 4)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=RegistryBackendDown", "severity=page", "team=registry"], "registry-page"),
        (
            ["alertname=RegistryDiskAlmostFull", "severity=warning", "team=registry"],
            "registry-ticket",
        ),
        (["alertname=RegistryReclaimableSpace", "severity=info", "team=registry"], "registry-chat"),
        # a registry alert without severity still reaches the team
        (["alertname=RegistryNew", "team=registry"], "registry-ticket"),
        # other teams' alerts are not ours
        (["alertname=NodeDown", "severity=page", "team=infra"], "default"),
    ],
)
def test_amtool_routes(labels: list[str], receiver: str) -> None:
    done = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert (done.returncode, done.stdout.strip()) == (0, receiver), done.stderr


def test_amtool_routes_test_can_fail() -> None:
    done = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        "--verify.receivers=registry-page",
        "severity=warning",
        "team=registry",
    )
    # exit 1, the receiver it resolved first (amtool's own line after it is its wording)
    assert (done.returncode, done.stdout.splitlines()[0]) == (1, "registry-ticket")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path / "alertmanager", CONFIG).start()
    try:
        yield am
    finally:
        am.stop()


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    return {
        "labels": {
            "alertname": name,
            "severity": severity,
            "team": "registry",
            "job": "registry-monitor",
            **labels,
        },
        "annotations": {"summary": name},
        "endsAt": ends.isoformat(),
    }


A1 = {"cluster": "a", "instance": "reg-a1:9623", "node": "reg-a1", "role": "active"}
A2 = {"cluster": "a", "instance": "reg-a2:9623", "node": "reg-a2", "role": "standby"}
B1 = {
    "cluster": "b",
    "instance": "reg-a1:9623",
    "node": "reg-b1",
    "role": "active",
}  # same instance
DISK = {"path": "/srv/registry", "mountpoint": "/srv", "device": "/dev/vdb", "fstype": "ext4"}
SERVED = {"source": "served", "target": "docker-registry.tools.wmflabs.org:443"}
FILE = {"source": "file", "target": "/etc/acmecerts/toolforge/live/ec-prime256v1.chained.crt"}


def states(am: Alertmanager) -> dict[tuple[str, str, str, str, str], str]:
    """(alertname, severity, cluster, node, source) -> active or suppressed."""
    return {
        (
            a["labels"]["alertname"],
            a["labels"]["severity"],
            a["labels"].get("cluster", ""),
            a["labels"].get("node", a["labels"].get("instance", "")),
            a["labels"].get("source", ""),
        ): a["status"]["state"]
        for a in am.alerts()
    }


def test_inhibitions(alertmanager: Alertmanager) -> None:
    exporter_down = {k: v for k, v in A1.items() if k not in ("node", "role")}
    alertmanager.post_alerts(
        [
            # the exporter of reg-a1 is down: its node's other alerts are held
            alert("RegistryExporterDown", "page", **exporter_down),
            alert("RegistryServiceFlapping", "warning", **A1, unit="docker-registry.service"),
            # ... not those of reg-a2, nor of pair b's node with the same instance
            alert("RegistryServiceFlapping", "warning", **A2, unit="docker-registry.service"),
            alert("RegistryServiceFlapping", "warning", **B1, unit="docker-registry.service"),
            # backend down on reg-a2 holds the public endpoint and push alerts of reg-a2
            alert("RegistryBackendDown", "warning", **A2, endpoint="backend"),
            alert("RegistryPublicDown", "warning", **A2, endpoint="public"),
            alert("RegistryWriteFailing", "page", **A2, endpoint="backend"),
            alert("RegistryPublicDown", "page", **B1, endpoint="public"),
            # a full disk (page) needs no fill-up forecast (warning); the page forecast stays
            alert("RegistryDiskAlmostFull", "page", **B1, **DISK),
            alert("RegistryDiskFillingUp", "warning", **B1, **DISK),
            alert("RegistryDiskFillingUp", "page", **B1, **DISK),
            # a page holds the warning of the same alert on the same certificate only
            alert("RegistryCertExpiringSoon", "page", **B1, **SERVED),
            alert("RegistryCertExpiringSoon", "warning", **B1, **SERVED),
            alert("RegistryCertExpiringSoon", "warning", **B1, **FILE),
            # a standby an hour behind pages once
            alert(
                "RegistryStandbyLagHigh", "page", cluster="b", instance="reg-b2:9623", node="reg-b2"
            ),
            alert("RegistrySyncStale", "page", cluster="b", instance="reg-b2:9623", node="reg-b2"),
        ]
    )
    expected = {
        ("RegistryExporterDown", "page", "a", "reg-a1:9623", ""): "active",
        ("RegistryServiceFlapping", "warning", "a", "reg-a1", ""): "suppressed",
        ("RegistryServiceFlapping", "warning", "a", "reg-a2", ""): "active",
        ("RegistryServiceFlapping", "warning", "b", "reg-b1", ""): "active",
        ("RegistryBackendDown", "warning", "a", "reg-a2", ""): "active",
        ("RegistryPublicDown", "warning", "a", "reg-a2", ""): "suppressed",
        ("RegistryWriteFailing", "page", "a", "reg-a2", ""): "suppressed",
        ("RegistryPublicDown", "page", "b", "reg-b1", ""): "active",
        ("RegistryDiskAlmostFull", "page", "b", "reg-b1", ""): "active",
        ("RegistryDiskFillingUp", "warning", "b", "reg-b1", ""): "suppressed",
        ("RegistryDiskFillingUp", "page", "b", "reg-b1", ""): "active",
        ("RegistryCertExpiringSoon", "page", "b", "reg-b1", "served"): "active",
        ("RegistryCertExpiringSoon", "warning", "b", "reg-b1", "served"): "suppressed",
        ("RegistryCertExpiringSoon", "warning", "b", "reg-b1", "file"): "active",
        ("RegistryStandbyLagHigh", "page", "b", "reg-b2", ""): "active",
        ("RegistrySyncStale", "page", "b", "reg-b2", ""): "suppressed",
    }
    # inhibition is computed as alerts arrive: wait until every one is judged
    wait_until(lambda: states(alertmanager) == expected, 15, "the expected inhibitions")
