"""A healthy active/standby registry pair on loopback, each node watched by its exporter.

Each node is what a registry host runs: the real docker-registry, real nginx
as its TLS front (certificate on disk, as acme writes it), its own fake
systemd and a real registry-exporter. The standby's data comes from one run
of the real sync: an rsync daemon exporting the active's data and the sync
unit's rsync client (testbed/rsync.py), taken after the active's write canary
is in place, so the two hold the same content. That run is recorded in the
standby's fake systemd as systemd shows the oneshot and its timer, which is
what the sync probe reads. The alert and the dashboard tests both start it.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trustme

from testbed.certs import CertFiles, issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.mounts import OwnFilesystem
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.rsync import RsyncDaemon, SyncUnit
from testbed.systemd import FakeSystemd

PUBLIC_NAME = "localhost"
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
    def instance(self) -> str:
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
        self.active = self._node(self.active_name, "active", self._registry("active"))
        pusher = Pusher(self.active.registry.url)
        for repository, tag in IMAGES:
            pusher.push_image(repository, tag)
        self.active.exporter = self._exporter(self.active, {})
        self.standby = self._node(self.standby_name, "standby", self._registry("standby"))
        # One good sync, after the write canary's first push.
        self.rsyncd = RsyncDaemon(self.workdir / "rsyncd", self.active.registry.data_dir)
        self.started.append(self.rsyncd.start())
        self.sync = SyncUnit(self.standby.systemd, self.rsyncd.url, self.standby.registry.data_dir)
        done = self.sync.run()
        if done.returncode != 0:
            raise AssertionError(f"the first sync exited {done.returncode}: {done.stderr}")
        self.standby.exporter = self._exporter(
            self.standby, {"active_exporter_url": self.active.exporter.url}
        )

    def _registry(self, role: str) -> Registry:
        """A registry whose data is on a filesystem of its own: the disk panels and
        alerts then read the pair's fill, not the host's."""
        disk = OwnFilesystem(self.workdir / role / "disk")
        self.started.append(disk.start())
        return Registry(self.workdir / role, data_dir=disk.path)

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
            "registry_user": getpass.getuser(),  # owns every file here: none foreign
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

    def __enter__(self) -> HealthyPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
