"""A healthy active/standby registry pair on loopback, each node watched by its exporter.

Each node is what a registry host runs: the real docker-registry, real nginx
as its TLS front (certificate on disk, as acme writes it), its own fake
systemd and a real registry-exporter. The standby's data is a real `rsync -a`
copy of the active's, taken after the active's write canary is in place, so
the two hold the same content, as after a good sync run.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trustme

from testbed.certs import CertFiles, issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.systemd import FakeSystemd

PUBLIC_NAME = "localhost"
SYNC_UNIT = "rsync-docker-registry-sync.service"
SYNC_TIMER = "rsync-docker-registry-sync.timer"
IMAGES = (("toolforge-python311-sssd-base", "latest"), ("toolforge-node18-sssd-base", "latest"))
CANARY_IMAGES = ("toolforge-python311-sssd-base:latest",)


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class Node:
    name: str
    role: str
    registry: Registry
    nginx: Nginx
    systemd: FakeSystemd
    exporter: Exporter | None = None

    @property
    def target(self) -> str:
        """HOST:PORT of the exporter, as Prometheus scrapes it (its `instance` label)."""
        assert self.exporter is not None
        return f"127.0.0.1:{self.exporter.port}"


@dataclass
class HealthyPair:
    workdir: Path
    ca: trustme.CA
    active_name: str = "registry-active-01"
    standby_name: str = "registry-standby-01"
    config: dict[str, Any] = field(default_factory=dict)  # for both exporters
    started: list[Stoppable] = field(default_factory=list)

    def start(self) -> HealthyPair:
        """Start both nodes; on any failure stop what was started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file = write_ca(self.ca, self.workdir / "ca.pem")
        self.cert = issue(
            self.ca, self.workdir / "acmecerts", PUBLIC_NAME, days=60, stem="ec-prime256v1.chained"
        )
        self.active = self._node(self.active_name, "active", Registry(self.workdir / "active"))
        pusher = Pusher(self.active.registry.url)
        for repository, tag in IMAGES:
            pusher.push_image(repository, tag)
        self.active.exporter = self._exporter(self.active, {})
        # The standby starts from a copy made after the write canary's first push.
        standby_data = self.workdir / "standby" / "data"
        standby_data.mkdir(parents=True)
        subprocess.run(
            ["rsync", "-a", "--delete", f"{self.active.registry.data_dir}/", f"{standby_data}/"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.standby = self._node(
            self.standby_name, "standby", Registry(self.workdir / "standby", data_dir=standby_data)
        )
        now = time.time()
        self.standby.systemd.set_unit(
            SYNC_UNIT,
            "inactive",
            extra={"Result": "success", "ExecMainStatus": 0, "Type": "oneshot"},
            unix={
                "ActiveEnterTimestamp": now - 65,
                "ExecMainStartTimestamp": now - 65,
                "ExecMainExitTimestamp": now - 60,
                "InactiveEnterTimestamp": now - 60,
            },
        )
        self.standby.systemd.set_unit(SYNC_TIMER, "active", sub_state="waiting")
        self.standby.exporter = self._exporter(
            self.standby, {"active_exporter_url": self.active.exporter.url}
        )

    def _node(self, name: str, role: str, registry: Registry) -> Node:
        self.started.append(registry.start())
        workdir = registry.workdir
        nginx = Nginx(workdir / "nginx", registry.url, PUBLIC_NAME, self.cert.cert, self.cert.key)
        self.started.append(nginx.start())
        systemd = FakeSystemd(workdir / "systemd")
        for unit in ("docker-registry.service", "nginx.service"):
            systemd.set_unit(unit, "active", started_at=time.time() - 3600)
        return Node(name, role, registry, nginx, systemd)

    def _exporter(self, node: Node, extra: dict[str, Any]) -> Exporter:
        workdir = node.registry.workdir
        config = {
            "node": node.name,
            "role": node.role,
            "data_dir": str(node.registry.data_dir),
            "backend_url": node.registry.url,
            "public_url": f"https://{PUBLIC_NAME}:{node.nginx.port}",
            "ca_file": str(self.ca_file),
            "cert_file": str(self.cert.cert),
            "canary_images": list(CANARY_IMAGES),
            "systemctl": str(node.systemd.systemctl),
            "state_dir": str(workdir / "state"),
            "registry_user": None,
            **self.config,
            **extra,
        }
        exporter = Exporter(workdir / "exporter", config, env=node.systemd.env)
        self.started.append(exporter)
        exporter.start()
        for probe in exporter.status()["probes"]:  # every probe this build runs
            exporter.wait_reading(probe["probe"], timeout=60)
        return exporter

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.active, self.standby)

    @property
    def certificate(self) -> CertFiles:
        return self.cert

    def stop(self) -> None:
        while self.started:
            self.started.pop().stop()
