"""The real Prometheus (Debian `prometheus`) on loopback with a temporary TSDB."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from testbed.daemon import Daemon
from testbed.waiting import free_port, wait_until

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
JOB = "registry-monitor"


class PrometheusError(Exception):
    """Prometheus refused a query; the message is its own."""


class Prometheus:
    """Prometheus scraping `scrape_targets` (HOST:PORT) as job `registry-monitor`."""

    def __init__(
        self,
        workdir: Path,
        scrape_targets: Sequence[str],
        rule_files: Sequence[Path] = (),
        scrape_interval: float = 1.0,
        evaluation_interval: float = 1.0,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.scrape_interval = scrape_interval
        config = {
            "global": {
                "scrape_interval": f"{scrape_interval:g}s",
                "scrape_timeout": f"{scrape_interval:g}s",
                "evaluation_interval": f"{evaluation_interval:g}s",
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": JOB, "static_configs": [{"targets": list(scrape_targets)}]}
            ],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.daemon = Daemon(
            [
                PROMETHEUS_BIN,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            workdir / "prometheus.log",
        )
        self.session = requests.Session()
        self.session.trust_env = False

    def _ready(self) -> bool:
        return self.session.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    def start(self) -> Prometheus:
        self.daemon.start()
        try:
            wait_until(self._ready, 30, f"prometheus on port {self.port}")
        except AssertionError:
            tail = self.daemon.log_tail()
            self.daemon.stop()
            raise AssertionError(f"prometheus did not start:\n{tail}") from None
        return self

    def stop(self) -> None:
        self.daemon.stop()

    def api(self, path: str, params: dict[str, Any] | list[tuple[str, str]]) -> Any:
        """GET /api/v1/<path>; the `data` of a success, PrometheusError otherwise."""
        resp = self.session.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = resp.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result (vector samples; a scalar becomes one sample)."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self.api("query_range", {"query": expr, "start": start, "end": end, "step": step})
        result: list[dict[str, Any]] = data["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        """What Grafana's `label_values(match, label)` variable query lists."""
        values: list[str] = self.api(f"label/{label}/values", [("match[]", match)])
        return values

    def targets_up(self) -> bool:
        targets = self.api("targets", {"state": "active"})["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)
