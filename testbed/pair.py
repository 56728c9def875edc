"""A healthy active/standby registry pair on loopback, each node watched by its exporter.

Each node is what a registry host runs: the real docker-registry, real nginx
as its TLS front (certificate on disk, as acme writes it), its own fake
systemd and a real registry-exporter. The standby's data comes from one run
of the real sync: an rsync daemon exporting the active's data and the sync
unit's rsync client (testbed/rsync.py), taken after the active's write canary
is in place, so the two hold the same content. That run is recorded in the
standby's fake systemd as systemd shows the oneshot and its timer, which is
what the sync probe reads. nginx logs in the registry_monitor format and
each exporter follows that log; a client pushes an image through the
active's nginx before the sync and pulls from both nodes once they run, so
the traffic metrics carry real requests and the pair is in step. The alert and the
dashboard tests both start it.
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
from testbed.registry import Registry, node_config
from testbed.rsync import RsyncDaemon, SyncUnit
from testbed.systemd import FakeSystemd

PUBLIC_NAME = "localhost"
IMAGES = (("toolforge-python311-sssd-base", "latest"), ("toolforge-node18-sssd-base", "latest"))
CANARY_IMAGES = ("toolforge-python311-sssd-base:latest",)
# api_token of both nodes: /api/* and the key of parity's digests
TOKEN = "pair-secret-0123456789"  # noqa: S105 - a test secret
HTPASSWD = "builder:$apr1$testbed$0000000000000000000000\n"
# Lines of each node's files that name its own ports and directories: declared, not drift.
PARITY_IGNORE_LINES = {
    "registry_config": [r"^\s*(addr|rootdirectory):"],
    "nginx_site": [r"^\s*(listen|pid|error_log|access_log|\w+_temp_path|proxy_pass)\s"],
}


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class Registries:
    """Two real registries, each with its data on a filesystem of its own (the disk panels,
    alerts and checks then read the pair's fill, not the host's), and an rsync daemon
    exporting the active's data for the standby's sync: what every pair starts with."""

    active: Registry
    standby: Registry
    rsyncd: RsyncDaemon


def start_registries(root: Path, started: list[Stoppable]) -> Registries:
    """Start them under root/active, root/standby and root/rsyncd; each one started is
    appended to `started`, for the caller to stop in reverse order, also on failure."""
    registries = []
    for role in ("active", "standby"):
        disk = OwnFilesystem(root / role / "disk")
        started.append(disk.start())
        registry = Registry(root / role, data_dir=disk.path)
        started.append(registry.start())
        registries.append(registry)
    active, standby = registries
    rsyncd = RsyncDaemon(root / "rsyncd", active.data_dir)
    started.append(rsyncd.start())
    return Registries(active, standby, rsyncd)


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
        registries = start_registries(self.workdir, self.started)
        self.active = self._node(self.active_name, "active", registries.active)
        pusher = Pusher(self.active.registry.url)
        for repository, tag in IMAGES:
            pusher.push_image(repository, tag)
        self.active.exporter = self._exporter(self.active, {})
        self._client_push()  # before the sync copies it: a healthy pair is in step
        self.standby = self._node(self.standby_name, "standby", registries.standby)
        # One good sync, after the write canary's first push.
        self.rsyncd = registries.rsyncd
        self.sync = SyncUnit(self.standby.systemd, self.rsyncd.url, self.standby.registry.data_dir)
        done = self.sync.run()
        # 24: a file vanished mid-run (the write canary's upload finishing as rsync
        # listed it); the timer's next run copies a settled tree, and so does this.
        for _ in range(3):
            if done.returncode != 24:
                break
            done = self.sync.run()
        if done.returncode != 0:
            raise AssertionError(f"the first sync exited {done.returncode}: {done.stderr}")
        self.standby.exporter = self._exporter(
            self.standby, {"active_exporter_url": self.active.exporter.url}
        )
        self._client_pulls()

    def _client(self, node: Node) -> Pusher:
        return Pusher(f"https://{PUBLIC_NAME}:{node.nginx.port}", verify=str(self.ca_file))

    def _client_push(self) -> None:
        """Through the active's nginx: a push (asking first for a blob it lacks: HEAD 404)."""
        active = self._client(self.active)
        active.blob_exists("client/app", "sha256:" + "0" * 64)
        active.push_image("client/app", "v1")

    def _client_pulls(self) -> None:
        """Through nginx: a pull from the active, and a pull of a synced image from the
        standby; then both exporters have read their logs."""
        self._client(self.active).pull_image("client/app", "v1")
        self._client(self.standby).pull_image(*IMAGES[0])
        done = time.time()
        for node in self.nodes:
            assert node.exporter is not None
            node.exporter.wait_reading("traffic", newer_than=done, timeout=60)

    def _node(self, name: str, role: str, registry: Registry) -> Node:
        workdir = registry.workdir
        nginx = Nginx(
            workdir / "nginx",
            registry.url,
            PUBLIC_NAME,
            self.cert.cert,
            self.cert.key,
            log_format="registry_monitor",
        )
        self.started.append(nginx.start())
        (workdir / "htpasswd").write_text(HTPASSWD)
        systemd = FakeSystemd(workdir / "systemd")
        for unit in ("docker-registry.service", "nginx.service"):
            systemd.set_unit(unit, "active", started_at=systemd.ago(3600))
        return Node(name, role, registry, nginx, systemd)

    def _exporter(self, node: Node, extra: dict[str, Any]) -> Exporter:
        workdir = node.registry.workdir
        config = node_config(node.name, node.role, node.registry.data_dir, node.registry.url) | {
            "public_url": f"https://{PUBLIC_NAME}:{node.nginx.port}",
            "ca_file": str(self.ca_file),
            "cert_file": str(self.cert.cert),
            "cert_key_file": str(self.cert.key),
            "parity_files": {
                "registry_config": str(node.registry.config_path),
                "nginx_site": str(node.nginx.config_path),
                "htpasswd": str(workdir / "htpasswd"),
            },
            "parity_ignore_lines": PARITY_IGNORE_LINES,
            "canary_images": list(CANARY_IMAGES),
            "systemctl": str(node.systemd.systemctl),
            # the public name (localhost) points at the active: its loopback is its public
            # address; the standby's is a documentation address no traffic goes to
            "public_addresses": ["127.0.0.1", "::1"] if node.role == "active" else ["192.0.2.20"],
            "state_dir": str(workdir / "state"),
            "registry_user": getpass.getuser(),  # owns every file here: none foreign
            "access_log": {"path": str(node.nginx.access_log), "format": "registry_monitor"},
            "api_token": TOKEN,  # /api/inventory and /api/parity, as deployed
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
