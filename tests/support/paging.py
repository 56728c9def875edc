"""Prometheus and Alertmanager watching a live pair, with the real rules' `for:` shortened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alerts.configure import ALERTS_DIR
from testbed.pair import HealthyPair
from testbed.prometheus import JOB, Alertmanager, Prometheus, static_scrape_config
from testbed.rules import short_for_copies
from testbed.waiting import wait_until


@contextmanager
def paging(pair: HealthyPair, workdir: Path) -> Iterator[tuple[Prometheus, Alertmanager]]:
    """Both started (Alertmanager routed as alerts/alertmanager.example.yaml routes), every
    target up; both stopped when the block ends, however it ends."""
    rules = short_for_copies(workdir / "rules", longest=2)
    alertmanager = Alertmanager(workdir / "alertmanager", ALERTS_DIR / "alertmanager.example.yaml")
    prometheus = Prometheus(
        workdir / "prometheus",
        [static_scrape_config(JOB, [node.instance for node in pair.nodes], {"cluster": "e2e"})],
        rule_files=rules,
        alertmanagers=[alertmanager.url],
        interval="1s",
    )
    try:
        alertmanager.start()
        prometheus.start()
        prometheus.wait_targets_up()
        yield prometheus, alertmanager
    finally:
        prometheus.stop()
        alertmanager.stop()


def alert_named(alerts: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((a for a in alerts if a["labels"]["alertname"] == name), None)


def paged(alertmanager: Alertmanager, name: str, timeout: float = 60) -> dict[str, Any]:
    """The alert `name` once Alertmanager holds it active."""
    return wait_until(
        lambda: alert_named(alertmanager.alerts(active="true"), name),
        timeout,
        f"{name} at Alertmanager",
    )
