"""Two real registries on loopback, the standby fed by real rsync: the pair under test."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.images import Pusher
from testbed.mounts import OwnFilesystem
from testbed.registry import Registry
from testbed.rsync import RsyncDaemon, SyncUnit
from testbed.systemd import FakeSystemd

TOKEN = "pair-secret"


@dataclass
class Pair:
    root: Path
    active: Registry
    standby: Registry
    sync: SyncUnit
    pusher: Pusher
    active_systemd: FakeSystemd  # the active's own; the standby's is the `systemd` fixture

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
            "systemctl": str(self.systemd_of(role).systemctl),
            "intervals": fast,
            "timeouts": fast,
            **extra,
        }

    def systemd_of(self, role: str) -> FakeSystemd:
        return self.active_systemd if role == "active" else self.sync.systemd

    def tag_mtime(self, repo: str, tag: str) -> float:
        link = self.active.v2 / "repositories" / repo / "_manifests/tags" / tag / "current/link"
        return link.stat().st_mtime

    def synced(self, subpath: str = "") -> None:
        done = self.sync.run(subpath)
        assert done.returncode in (0, 24), done.stderr  # 24: files vanished, the usual race


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
        # the active has no sync unit installed (not-found), as it should be
        active_systemd = FakeSystemd(root / "systemd-active", boot=systemd.boot)
        yield Pair(root, active, standby, sync, Pusher(active.url), active_systemd)
    finally:
        for daemon in reversed(stoppers):
            daemon.stop()
