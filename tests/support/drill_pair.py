"""The fault drill's pair: a HealthyPair whose probes run every second, each node with its
own copy of the certificate (so one can be renewed alone), watched by Prometheus and
Alertmanager with the real rules; the sync unit run as deployed (the guard first, rsync
only when it allows); what each node holds, to count what a fault lost."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import trustme

from testbed.certs import CertFiles, issue
from testbed.exporter import Exporter
from testbed.pair import PARITY_IGNORE_LINES, PUBLIC_NAME, HealthyPair, Node
from testbed.prometheus import Alertmanager, Prometheus
from testbed.registry import Registry
from testbed.rsync import SyncUnit
from testbed.waiting import wait_until
from tests.support.check import CheckRun, run_check, write_config
from tests.support.drill_table import Alert
from tests.support.fast_pair import FAST
from tests.support.paging import alert_named, paging

CERT_STEM = "ec-prime256v1.chained"


class DrillPair(HealthyPair):
    """Each node reads its certificate from a directory of its own, as each host has its
    own acme-chief copy; everything else as HealthyPair."""

    node_certs: dict[str, CertFiles]

    def _node(self, name: str, role: str, registry: Registry) -> Node:
        shared = self.cert
        own_dir = registry.workdir / "acmecerts"
        own_dir.mkdir(parents=True, exist_ok=True)
        own = replace(
            shared,
            cert=Path(shutil.copy2(shared.cert, own_dir / shared.cert.name)),
            key=Path(shutil.copy2(shared.key, own_dir / shared.key.name)),
        )
        self.node_certs = {**getattr(self, "node_certs", {}), role: own}
        self.cert = own
        try:
            return super()._node(name, role, registry)
        finally:
            self.cert = shared

    def _exporter(self, node: Node, extra: dict[str, Any]) -> Exporter:
        own = self.node_certs[node.role]
        # each node's own certificate directory (on the hosts the paths are the same)
        ignore = {
            **PARITY_IGNORE_LINES,
            "nginx_site": [*PARITY_IGNORE_LINES["nginx_site"], r"^\s*ssl_certificate(_key)?\s"],
        }
        own_files = {"cert_file": str(own.cert), "cert_key_file": str(own.key)}
        return super()._exporter(node, {**own_files, "parity_ignore_lines": ignore, **extra})

    def renew_certificate(self, node: Node) -> CertFiles:
        """A new certificate for the same name in the node's files, nginx reloaded: what
        acme renewal does on one host."""
        renewed = issue(
            self.ca, self.node_certs[node.role].cert.parent, PUBLIC_NAME, days=60, stem=CERT_STEM
        )
        node.nginx.reload()
        return renewed


@dataclass
class Drill:
    pair: DrillPair
    prometheus: Prometheus
    alertmanager: Alertmanager
    workdir: Path
    baseline: set[str] | None = None

    def unit_run(self, node: Node, sync: SyncUnit | None = None) -> tuple[CheckRun, int | None]:
        """The sync unit on `node` as the package installs it: ExecStartPre= the guard with
        the node's own config, then rsync only when the guard exited 0."""
        assert node.exporter is not None
        sync = sync or self.pair.sync
        config = {**node.exporter.config, "sync_guard": {"source": sync.url}}
        path = write_config(self.workdir / f"guard-{node.role}-{time.monotonic_ns()}.yaml", config)
        guard = run_check(path, "sync-guard")
        if guard.exit_code != 0:
            return guard, None
        return guard, sync.run().returncode

    def settled(self) -> set[str]:
        """The alerts pending or firing once every rule group has evaluated past a `for:`
        from now: the healthy pair's baseline, before a fault."""
        since = time.time() + 3

        def evaluated() -> bool:
            return all(
                datetime.fromisoformat(g["lastEvaluation"].replace("Z", "+00:00")).timestamp()
                > since
                for g in self.prometheus.rule_groups()
            )

        wait_until(evaluated, 30, "every rule group evaluated")
        self.baseline = {a["labels"]["alertname"] for a in self.prometheus.alerts()}
        return self.baseline

    def in_prometheus(self, name: str) -> bool:
        """Pending or firing: the rule's expression true on the scraped readings."""
        return any(a["labels"]["alertname"] == name for a in self.prometheus.alerts())

    def at_alertmanager(self, name: str, severity: str) -> bool:
        alert = alert_named(
            [
                a
                for a in self.alertmanager.alerts(active="true")
                if a["labels"].get("severity") == severity
            ],
            name,
        )
        return alert is not None

    def watch(
        self, since: float, expected: Iterable[Alert], timeout: float = 90
    ) -> tuple[float, dict[str, float]]:
        """Poll until every alert is at Alertmanager with its severity: the seconds from
        `since` to the first of them pending in Prometheus (its expression true on a scrape
        of the probes' readings), and to each one's arrival at Alertmanager."""
        alerts = {a.name: a.severity for a in expected}
        detected: float | None = None
        arrived: dict[str, float] = {}
        assert self.baseline is not None, "settled() first: a fault's alerts must be new"
        assert not self.baseline & set(alerts), f"already raised before the fault: {alerts}"

        def all_arrived() -> bool:
            nonlocal detected
            now = time.time() - since
            if detected is None and any(self.in_prometheus(n) for n in alerts):
                detected = now
            for name, severity in alerts.items():
                if name not in arrived and self.at_alertmanager(name, severity):
                    arrived[name] = time.time() - since
            return len(arrived) == len(alerts)

        try:
            wait_until(all_arrived, timeout, f"{', '.join(alerts)} at Alertmanager")
        except AssertionError as exc:
            pending = sorted({a["labels"]["alertname"] for a in self.prometheus.alerts()})
            raise AssertionError(f"{exc}; arrived: {arrived}; in Prometheus: {pending}") from exc
        assert detected is not None
        return detected, arrived


@contextmanager
def drill(workdir: Path, ca: trustme.CA, **config: Any) -> Iterator[Drill]:
    """A fresh pair and its Prometheus and Alertmanager, all stopped when the block ends."""
    settings = {"intervals": FAST, "timeouts": FAST, **config}
    with (
        DrillPair(
            workdir / "pair",
            ca,
            active_name="drill-active",
            standby_name="drill-standby",
            config=settings,
        ) as pair,
        paging(pair, workdir / "paging") as (prometheus, alertmanager),
    ):
        yield Drill(pair, prometheus, alertmanager, workdir)


@dataclass(frozen=True)
class Content:
    """What a node's disk holds intact: tag links, and blobs whose data hash to their digest."""

    tags: frozenset[str]
    blobs: frozenset[str]


def content(data_dir: Path) -> Content:
    v2 = data_dir / "docker/registry/v2"
    root = v2 / "repositories"
    tags = frozenset(
        str(p.relative_to(root))
        for p in root.glob("**/_manifests/tags/*/current/link")
        if p.is_file() and "_manifests/tags/" in str(p)
    )
    blobs = frozenset(
        p.parent.name
        for p in (v2 / "blobs/sha256").glob("*/*/data")
        if hashlib.sha256(p.read_bytes()).hexdigest() == p.parent.name
    )
    return Content(tags, blobs)


def lost(before: list[Content], after: list[Content], canary: str) -> str:
    """What was intact on some node before and is intact on none after: "none" or counts.
    The write probe's canary repository is monitoring traffic, not data."""
    had_tags = {t for c in before for t in c.tags if not t.startswith(canary + "/")}
    has_tags = {t for c in after for t in c.tags}
    had_blobs = {b for c in before for b in c.blobs}
    has_blobs = {b for c in after for b in c.blobs}
    tags, blobs = len(had_tags - has_tags), len(had_blobs - has_blobs)
    if not tags and not blobs:
        return "none"
    parts = [f"{tags} tag{'s' * (tags != 1)}"] if tags else []
    parts += [f"{blobs} blob{'s' * (blobs != 1)}"] if blobs else []
    return ", ".join(parts)


def wait_second_after(started: float) -> None:
    """systemd gives a run's start to the second, and a push in that second counts as
    before it: a fault's pushes come from the next second on."""
    wait_until(lambda: time.time() >= int(started) + 1, 5, "the second after the sync began")
