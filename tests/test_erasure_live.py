"""The erasure alerts against the real thing: a healthy pair pages for none of them, and
an active with its sync timer left on pages through Prometheus and Alertmanager."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import trustme

from testbed.pair import HealthyPair
from testbed.prometheus import Prometheus
from testbed.rsync import SyncUnit
from testbed.waiting import wait_until
from tests.support.paging import paged, paging

pytestmark = pytest.mark.daemons

ERASURE = {
    "RegistrySyncOnActive",
    "RegistrySyncOutlastsPeriod",
    "RegistryStandbyDivergent",
    "RegistryStandbyUploadsActive",
    "RegistryPublicNameOnStandby",
    "RegistryPublicNameElsewhere",
}


@pytest.fixture
def fast_pair(tmp_path: Path, ca: trustme.CA) -> Iterator[HealthyPair]:
    fast = {"intervals": {"sync": 1, "api": 2}, "timeouts": {"sync": 1, "api": 2}}
    with HealthyPair(
        tmp_path / "pair", ca, active_name="e2e-active", standby_name="e2e-standby", config=fast
    ) as started:
        yield started


def evaluated_since(prometheus: Prometheus, since: float) -> bool:
    for group in prometheus.rule_groups():
        if group["name"] == "registry-monitor-erasure":
            last = datetime.fromisoformat(group["lastEvaluation"].replace("Z", "+00:00"))
            return last.timestamp() > since
    return False


def test_sync_timer_left_on_the_active_pages(fast_pair: HealthyPair, tmp_path: Path) -> None:
    with paging(fast_pair, tmp_path) as (prometheus, alertmanager):
        # healthy: the name on the active, nothing pushed to the standby, no sync on the active
        wait_until(
            lambda: len(prometheus.query("registry_monitor_public_name_points_here")) == 2,
            30,
            "both nodes' public name figures",
        )
        here = {
            s.labels["instance"]: s.value
            for s in prometheus.query("registry_monitor_public_name_points_here")
        }
        assert here == {fast_pair.active.instance: 1.0, fast_pair.standby.instance: 0.0}
        # both nodes' figures in, then evaluated past every shortened for: (2 s): nothing
        seen = time.time()
        wait_until(lambda: evaluated_since(prometheus, seen + 3), 30, "the erasure rules evaluated")
        assert {a["labels"]["alertname"] for a in prometheus.alerts()} & ERASURE == set()

        # a failover's leftover: the timer of the old standby left on, here on the active
        SyncUnit(fast_pair.active.systemd, fast_pair.rsyncd.url, fast_pair.active.registry.data_dir)
        page = paged(alertmanager, "RegistrySyncOnActive")
        assert page["labels"] == {
            "alertname": "RegistrySyncOnActive",
            "cluster": "e2e",
            "instance": fast_pair.active.instance,
            "job": "registry-monitor",
            "node": "e2e-active",
            "role": "active",
            "severity": "page",
            "team": "registry",
        }
        assert page["annotations"]["summary"] == "The sync runs on the active e2e-active #page"
        assert [r["name"] for r in page["receivers"]] == ["registry-page"]
        # the standby's own timer is its normal schedule: no alert names it
        assert not [
            a
            for a in prometheus.alerts()
            if a["labels"]["alertname"] in ERASURE and a["labels"].get("node") == "e2e-standby"
        ]
