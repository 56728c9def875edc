"""Prometheus and Alertmanager (Debian's) watching the real pair, in the test's network.

Both run as processes of this machine inside the active's network namespace (`ip netns
exec`), where the active's exporter is on the local address and the standby's across the
pair's link, as a monitoring host sees them; the test talks to their APIs through sockets
made in that namespace (testbed/netns.py). Nothing listens outside it. The rules are the
real ones with every `for:` cut to 10 s (testbed/rules.py); Alertmanager is routed by
alerts/alertmanager.example.yaml, whose receivers cannot be reached from the namespace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.configure import ALERTS_DIR
from testbed.prometheus import JOB, Alertmanager, Prometheus
from testbed.rules import short_for_copies
from testbed.waiting import wait_until
from tests.support.realhosts import RealNode

CLUSTER = "toolforge"
EXPORTER_PORT = 9623
# Their own default ports: the namespace is the test's, and the container runs neither.
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
# Seconds: every rule's `for:` cut to this. Not shorter: each run of the test's quick sync
# timer is a failover blocker (`sync_running`) for the seconds the sync probe reads it so;
# 4 h of it pages, and 2 s could page a healthy pair.
LONGEST_FOR = 10.0


def instance(node: RealNode) -> str:
    """The target as docs/deployment.md's scrape config names it: the node's name and port."""
    return f"{node.host.name}:{EXPORTER_PORT}"


def scrape_config(nodes: Sequence[RealNode]) -> dict[str, Any]:
    """docs/deployment.md's job: both nodes, `cluster` on both. The targets are the
    addresses on the private link; `instance` keeps the names an operator's config has."""
    return {
        "job_name": JOB,
        "static_configs": [
            {
                "targets": [f"{node.address}:{EXPORTER_PORT}"],
                "labels": {"cluster": CLUSTER, "instance": instance(node)},
            }
            for node in nodes
        ],
    }


@contextmanager
def watching(nodes: Sequence[RealNode], workdir: Path) -> Iterator[tuple[Prometheus, Alertmanager]]:
    """Both started in the active's namespace, every target up; both stopped when the block
    ends, however it ends (the namespace itself is the pair fixture's)."""
    netns = nodes[0].host.netns
    alertmanager = Alertmanager(
        workdir / "alertmanager",
        ALERTS_DIR / "alertmanager.example.yaml",
        port=ALERTMANAGER_PORT,
        netns=netns,
    )
    prometheus = Prometheus(
        workdir / "prometheus",
        [scrape_config(nodes)],
        rule_files=short_for_copies(workdir / "rules", longest=LONGEST_FOR),
        alertmanagers=[alertmanager.url],
        interval="1s",
        port=PROMETHEUS_PORT,
        netns=netns,
    )
    try:
        alertmanager.start()
        prometheus.start()
        prometheus.wait_targets_up(60)
        yield prometheus, alertmanager
    finally:
        prometheus.stop()
        alertmanager.stop()


_FRACTION = re.compile(r"(\.\d{6})\d*")


def evaluated_at(group: dict[str, Any]) -> float:
    """A rule group's lastEvaluation (RFC 3339, nanoseconds) as Unix time."""
    text = _FRACTION.sub(r"\1", str(group["lastEvaluation"])).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def all_evaluated_after(prometheus: Prometheus, moment: float) -> bool:
    return all(evaluated_at(g) > moment for g in prometheus.rule_groups())


def settled(prometheus: Prometheus) -> float:
    """Now, once every rule group has been evaluated past the shortened `for:` from now:
    whatever held from now on has had its time to fire."""
    start = time.time()
    wait_until(
        lambda: all_evaluated_after(prometheus, start + LONGEST_FOR + 1),
        60,
        "every rule group evaluated past the shortened for:",
    )
    return start


def pages(alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    return sorted(
        (a["labels"] for a in alerts if a["labels"].get("severity") == "page"),
        key=lambda labels: sorted(labels.items()),
    )
