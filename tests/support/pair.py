"""Two real registries on loopback, the standby fed by real rsync: the pair under test."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from testbed.images import Pusher
from testbed.mounts import OwnFilesystem
from testbed.registry import Registry
from testbed.rsync import RsyncDaemon, SyncUnit
from testbed.systemd import FakeSystemd

TOKEN = "pair-secret"


def ago(seconds: float) -> float:
    """A time in the past, but after boot: systemd's monotonic timestamps start at boot."""
    return max(time.time() - seconds, psutil.boot_time() + 1)


@dataclass
class Pair:
    root: Path
    active: Registry
    standby: Registry
    sync: SyncUnit
    pusher: Pusher

    def config(self, role: str, registry: Registry, **extra: Any) -> dict[str, Any]:
        fast = {"storage": 0.5, "write": 0.5, "sync": 0.5, "standby": 0.5}
        return {
            "node": f"registry-{role}",
            "role": role,
            "data_dir": str(registry.data_dir),
            "backend_url": registry.url,
            "public_url": registry.url,
            "cert_file": None,
            "registry_user": getpass.getuser(),
            "state_dir": str(self.root / f"state-{role}"),
            "api_token": TOKEN,
            "intervals": fast,
            "timeouts": fast,
            **extra,
        }

    def tag_mtime(self, repo: str, tag: str) -> float:
        link = self.active.v2 / "repositories" / repo / "_manifests/tags" / tag / "current/link"
        return link.stat().st_mtime

    def synced(self, subpath: str = "") -> None:
        done = self.sync.run(subpath)
        assert done.returncode == 0, done.stderr


@contextmanager
def running_pair(root: Path, systemd: FakeSystemd) -> Iterator[Pair]:
    stoppers: list[Any] = []
    try:
        disks = [OwnFilesystem(root / role / "disk") for role in ("active", "standby")]
        for disk in disks:
            stoppers.append(disk.start())
        active = Registry(root / "active", data_dir=disks[0].path).start()
        stoppers.append(active)
        standby = Registry(root / "standby", data_dir=disks[1].path).start()
        stoppers.append(standby)
        rsyncd = RsyncDaemon(root / "rsyncd", active.data_dir).start()
        stoppers.append(rsyncd)
        sync = SyncUnit(systemd, rsyncd.url, standby.data_dir)
        yield Pair(root, active, standby, sync, Pusher(active.url))
    finally:
        for daemon in reversed(stoppers):
            daemon.stop()
