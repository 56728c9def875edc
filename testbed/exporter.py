"""The real registry-exporter process, started from its console script."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

from testbed.daemon import Daemon
from testbed.waiting import free_port, wait_until


def exporter_argv() -> list[str]:
    script = Path(sys.executable).parent / "registry-exporter"
    if script.exists():
        return [str(script)]
    found = shutil.which("registry-exporter")
    return [found] if found else [sys.executable, "-m", "exporter.cli"]


class Exporter:
    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        env: dict[str, str] | None = None,
        wrapper: tuple[str, ...] = (),
        args: tuple[str, ...] = (),
    ) -> None:
        """`wrapper` goes before the command, e.g. setpriv to run it as another user;
        `args` after it (more command-line flags)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config
        self.config_path = workdir / "exporter.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.daemon = Daemon(
            [
                *wrapper,
                *exporter_argv(),
                "--config",
                str(self.config_path),
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
                *args,
            ],
            workdir / "exporter.log",
            env={**os.environ, **(env or {})},
            name="exporter",
        )

    def start(self, wait_for: tuple[str, ...] = ()) -> Exporter:
        """Start, and wait until /healthz answers and the named probes have a reading."""
        self.daemon.start_and_wait(self.healthy, 20, "exporter /healthz")
        for probe in wait_for:
            try:
                self.wait_reading(probe)
            except AssertionError as exc:
                self.daemon.give_up(str(exc))
        return self

    def healthy(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200

    @property
    def auth(self) -> dict[str, str]:
        token = self.config.get("api_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def status(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        resp = requests.get(
            f"{self.url}/api/status", timeout=5, headers=self.auth if headers is None else headers
        )
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def probe_status(self, probe: str) -> dict[str, Any]:
        return next(p for p in self.status()["probes"] if p["probe"] == probe)

    def wait_reading(
        self, probe: str, newer_than: float = 0.0, timeout: float = 20
    ) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            entry = self.probe_status(probe)
            started = entry.get("started_at")
            return entry if started and started > newer_than else None

        return wait_until(ready, timeout, f"a reading of probe {probe}")

    def metrics_text(self) -> str:
        resp = requests.get(f"{self.url}/metrics", timeout=5)
        resp.raise_for_status()
        return resp.text

    def stop(self) -> None:
        self.daemon.stop()
