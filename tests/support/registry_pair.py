"""A registry pair on loopback: per node a real registry, real nginx (TLS) and the real exporter.

Each node has its own fake systemd (the one faked part) reporting its units
active; the standby's also reports the rsync sync service and timer.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from testbed.certs import issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from testbed.waiting import wait_until

PUBLIC_NAME = "docker-registry.test"
CANARY = "toolforge-python311-sssd-base:latest"
SYNC_UNIT = "rsync-docker-registry-sync.service"


@dataclass
class Node:
    name: str
    role: str
    registry: Registry
    nginx: Nginx
    exporter: Exporter
    systemd: FakeSystemd

    @property
    def instance(self) -> str:
        return f"127.0.0.1:{self.exporter.port}"


@dataclass
class Pair:
    active: Node
    standby: Node

    @property
    def nodes(self) -> tuple[Node, Node]:
        return (self.active, self.standby)


def _start_node(
    root: Path,
    *,
    name: str,
    role: str,
    ca: trustme.CA,
    ca_file: Path,
    stoppers: list[Any],
    active_url: str | None,
    extra: dict[str, Any],
) -> Node:
    systemd = FakeSystemd(root / "systemd")
    now = time.time()
    for unit in ("docker-registry.service", "nginx.service"):
        systemd.set_unit(unit, "active", started_at=now - 600)
    if role == "standby":
        systemd.set_unit(
            SYNC_UNIT,
            "inactive",
            extra={"Result": "success", "ExecMainStatus": 0},
            unix={"ExecMainStartTimestamp": now - 90, "ExecMainExitTimestamp": now - 60},
        )
        systemd.set_unit(SYNC_UNIT.replace(".service", ".timer"), "active", sub_state="waiting")
    registry = Registry(root / "registry").start()
    stoppers.append(registry)
    cert = issue(ca, root / "certs", PUBLIC_NAME, days=60, stem="ec-prime256v1.chained")
    nginx = Nginx(root / "nginx", registry.url, PUBLIC_NAME, cert.cert, cert.key).start()
    stoppers.append(nginx)
    pusher = Pusher(registry.url)
    repository, tag = CANARY.split(":")
    pusher.push_image(repository, tag)
    pusher.push_image("toolforge-node18-sssd-base", "latest")
    config: dict[str, Any] = {
        "node": name,
        "role": role,
        "data_dir": str(registry.data_dir),
        "backend_url": registry.url,
        "public_url": f"https://{PUBLIC_NAME}",
        "public_connect": nginx.connect,
        "ca_file": str(ca_file),
        "cert_file": str(cert.cert),
        "canary_images": [CANARY],
        "state_dir": str(root / "state"),
        "registry_user": getpass.getuser(),
        **extra,
    }
    if active_url:
        config["active_exporter_url"] = active_url
    path = f"{systemd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    exporter = Exporter(root / "exporter", config, env=systemd.env | {"PATH": path})
    stoppers.append(exporter)
    exporter.start()
    return Node(name, role, registry, nginx, exporter, systemd)


@contextlib.contextmanager
def registry_pair(
    root: Path, ca: trustme.CA, prefix: str = "reg", **exporter_extra: Any
) -> Iterator[Pair]:
    """An active and a standby node; every daemon stopped on exit, even after a failure."""
    root.mkdir(parents=True, exist_ok=True)
    ca_file = write_ca(ca, root / "ca.pem")
    stoppers: list[Any] = []
    try:
        start = functools.partial(
            _start_node, ca=ca, ca_file=ca_file, stoppers=stoppers, extra=exporter_extra
        )
        active = start(root / "active", name=f"{prefix}-active", role="active", active_url=None)
        standby = start(
            root / "standby",
            name=f"{prefix}-standby",
            role="standby",
            active_url=active.exporter.url,
        )
        yield Pair(active, standby)
    finally:
        for daemon in reversed(stoppers):
            with contextlib.suppress(Exception):
                daemon.stop()


def wait_every_probe(exporter: Exporter, timeout: float = 60) -> None:
    """Until each probe the exporter runs has produced its first reading."""

    def all_read() -> bool:
        probes = exporter.status()["probes"]
        return bool(probes) and all(p.get("started_at") for p in probes)

    wait_until(all_read, timeout, f"a first reading of every probe of {exporter.url}")
