"""The real distribution registry (Debian docker-registry) on loopback, for tests and the demo."""

from __future__ import annotations

import shutil
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from testbed.daemon import Daemon
from testbed.waiting import free_port

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def node_config(node: str, role: str, data_dir: Path, url: str, /, **extra: Any) -> dict[str, Any]:
    """A node's config (exporter and check_registry) on the registry at `url` reached
    directly, with no TLS front and no certificate to watch; `extra` adds or overrides
    any key (positional-only parameters: `data_dir=` and the like are keys of extra)."""
    return {
        "node": node,
        "role": role,
        "data_dir": str(data_dir),
        "backend_url": url,
        "public_url": url,
        "cert_file": None,
        **extra,
    }


class Registry:
    """docker-registry serving data_dir on 127.0.0.1; TLS when cert/key are given."""

    def __init__(
        self,
        workdir: Path,
        data_dir: Path | None = None,
        port: int | None = None,
        tls: tuple[Path, Path] | None = None,
        extra_config: dict[str, object] | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir or workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "registry-monitor-tests"},
        }
        if tls:
            config["http"] = {
                **config["http"],  # type: ignore[dict-item]
                "tls": {"certificate": str(tls[0]), "key": str(tls[1])},
            }
        for key, value in (extra_config or {}).items():
            config[key] = value
        self.config_path = workdir / "registry.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.daemon = Daemon(
            [REGISTRY_BIN, "serve", str(self.config_path)],
            workdir / "registry.log",
            name="docker-registry",
        )

    def _answers(self) -> bool:
        ctx = ssl._create_unverified_context() if self.tls else None  # noqa: S323 - readiness only
        with urllib.request.urlopen(f"{self.url}/v2/", timeout=1, context=ctx) as resp:  # noqa: S310
            return bool(resp.status == 200)

    def start(self) -> Registry:
        self.daemon.start_and_wait(self._answers, 15, f"docker-registry on port {self.port}")
        return self

    def stop(self) -> None:
        self.daemon.stop()

    def kill(self) -> None:
        self.daemon.kill()

    @property
    def running(self) -> bool:
        return self.daemon.running

    @property
    def v2(self) -> Path:
        return self.data_dir / "docker" / "registry" / "v2"

    def garbage_collect(self, delete_untagged: bool = False) -> str:
        import subprocess

        argv = [REGISTRY_BIN, "garbage-collect", str(self.config_path)]
        if delete_untagged:
            argv.insert(2, "--delete-untagged")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout
