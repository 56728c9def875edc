"""Real Prometheus and Alertmanager (Debian packages) on loopback, for tests and the demo.

`Prometheus` scrapes the given targets and evaluates the given rule files,
sending alerts to the given Alertmanagers; `query()`, `query_range()` and
`label_values()` ask it what Grafana or an alert rule would. `Alertmanager`
runs with a given configuration file, clustering off. The alert tests, the
dashboard tests and the demo all start them from here.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from testbed.daemon import Daemon
from testbed.netns import session_in
from testbed.waiting import free_port, wait_until

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER_BIN = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
JOB = "registry-monitor"  # the scrape job the alert rules and the dashboards expect


class PrometheusError(Exception):
    """Prometheus refused a request (a bad query, say); the message is its own."""


def _session(netns: str | None = None) -> requests.Session:
    if netns is not None:  # the namespace's own loopback (testbed/netns.py)
        return session_in(netns)
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy
    return session


def _inside(netns: str | None, argv: list[str]) -> list[str]:
    """argv run in the network namespace at `netns` (/run/netns/<name>), if one is given."""
    return argv if netns is None else ["ip", "netns", "exec", Path(netns).name, *argv]


@dataclass(frozen=True)
class Sample:
    """One series of an instant query: its labels and value."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and (time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def static_scrape_config(
    job: str,
    targets: Sequence[str],
    labels: Mapping[str, str] | None = None,
    interval: str | None = None,
) -> dict[str, Any]:
    """One scrape job over fixed host:port targets, with target labels (e.g. the pair's cluster)."""
    config: dict[str, Any] = {
        "job_name": job,
        "static_configs": [{"targets": list(targets), "labels": dict(labels or {})}],
    }
    if interval:
        config["scrape_interval"] = interval
    return config


class _ReadyDaemon:
    """What Prometheus and Alertmanager share: a daemon on self.port, up once /-/ready says so."""

    daemon: Daemon
    port: int
    url: str
    session: requests.Session

    def start(self) -> Self:
        self.daemon.start_and_wait(self._ready, 30, f"{self.daemon.name} on port {self.port}")
        return self

    def _ready(self) -> bool:
        return self.session.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    def stop(self) -> None:
        self.daemon.stop()


class Prometheus(_ReadyDaemon):
    def __init__(
        self,
        workdir: Path,
        scrape_configs: Sequence[Mapping[str, Any]],
        rule_files: Sequence[Path] = (),
        alertmanagers: Sequence[str] = (),
        interval: str = "1s",
        external_labels: Mapping[str, str] | None = None,
        alert_relabel_configs: Sequence[Mapping[str, Any]] = (),
        port: int | None = None,
        netns: str | None = None,
    ) -> None:
        """`netns`: run in that network namespace, listening on its loopback (give `port`)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
                "external_labels": dict(external_labels or {}),
            },
            "scrape_configs": [dict(c) for c in scrape_configs],
            "rule_files": [str(Path(p).resolve()) for p in rule_files],
        }
        if alertmanagers or alert_relabel_configs:
            config["alerting"] = {
                "alertmanagers": [
                    {
                        "static_configs": [
                            {"targets": [a.removeprefix("http://") for a in alertmanagers]}
                        ]
                    }
                ],
                "alert_relabel_configs": [dict(c) for c in alert_relabel_configs],
            }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.daemon = Daemon(
            _inside(
                netns,
                [
                    PROMETHEUS_BIN,
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
            ),
            workdir / "prometheus.log",
            name="prometheus",
        )
        self.session = _session(netns)

    def api(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, str]] = ()) -> Any:
        """GET /api/v1/<path>: the `data` of a success, PrometheusError with its message if not."""
        resp = self.session.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        try:
            body = resp.json()
        except ValueError:
            resp.raise_for_status()
            raise PrometheusError(f"not JSON from /api/v1/{path}: {resp.text[:200]}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list[Sample]:
        """An instant query (at `time`, default now); a vector or scalar result as samples."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self.api("query", params)
        if data["resultType"] == "vector":
            return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        raise AssertionError(f"unexpected result type {data['resultType']} for {expr}")

    def notes(self, expr: str, time: float | None = None) -> list[str]:
        """The warnings and infos Prometheus gives with an instant query's result (an error
        raises PrometheusError): a query it accepts but doubts, such as rate() of a gauge."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        resp = self.session.get(f"{self.url}/api/v1/query", params=params, timeout=30)
        body = resp.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return [*body.get("warnings", []), *body.get("infos", [])]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        data = self.api("query_range", {"query": expr, "start": start, "end": end, "step": step})
        return [
            Series(dict(r["metric"]), [(float(t), float(v)) for t, v in r["values"]])
            for r in data["result"]
        ]

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's `label_values(match, label)` variable query lists."""
        values: list[str] = self.api(f"label/{label}/values", [("match[]", match)])
        return values

    def targets(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("targets", {"state": "active"})["activeTargets"]
        return result

    def targets_up(self) -> bool:
        targets = self.targets()
        return bool(targets) and all(t["health"] == "up" for t in targets)

    def wait_targets_up(self, timeout: float = 30) -> None:
        wait_until(self.targets_up, timeout, "every scrape target up")

    def rule_groups(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("rules")["groups"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts, as /api/v1/alerts lists them."""
        result: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return result


class Alertmanager(_ReadyDaemon):
    def __init__(
        self,
        workdir: Path,
        config_path: Path,
        port: int | None = None,
        netns: str | None = None,
    ) -> None:
        """`netns`: run in that network namespace, listening on its loopback (give `port`)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = config_path
        self.daemon = Daemon(
            _inside(
                netns,
                [
                    ALERTMANAGER_BIN,
                    f"--config.file={config_path}",
                    f"--storage.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no gossip: a single instance
                    "--log.level=warn",
                ],
            ),
            workdir / "alertmanager.log",
            name="alertmanager",
        )
        self.session = _session(netns)

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """GET /api/v2/alerts; filters are its query parameters (active, inhibited, ...)."""
        resp = self.session.get(f"{self.url}/api/v2/alerts", params=filters, timeout=10)
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()
        return result

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST /api/v2/alerts, as Prometheus does."""
        resp = self.session.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        resp.raise_for_status()
