"""Two real registries on loopback, the standby fed by real rsync: the pair under test.

The bare pair the probe and check tests drive by hand; testbed/pair.py starts the same
registries and adds what a deployed node has around them (nginx, exporters).
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.images import Pusher
from testbed.pair import Stoppable, start_registries
from testbed.registry import Registry, node_config
from testbed.rsync import SyncUnit
from testbed.systemd import FakeSystemd

TOKEN = "pair-secret-0123456789"


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
        return node_config(
            f"registry-{role}",
            role,
            registry.data_dir,
            registry.url,
            **{
                "registry_user": getpass.getuser(),
                "state_dir": str(self.root / f"state-{role}"),
                "api_token": TOKEN,
                "systemctl": str(self.systemd_of(role).systemctl),
                "intervals": fast,
                "timeouts": fast,
                **extra,
            },
        )

    def systemd_of(self, role: str) -> FakeSystemd:
        return self.active_systemd if role == "active" else self.sync.systemd

    def tag_link(self, repo: str, tag: str) -> Path:
        return self.active.v2 / "repositories" / repo / "_manifests/tags" / tag / "current/link"

    def tag_mtime(self, repo: str, tag: str) -> float:
        return self.tag_link(repo, tag).stat().st_mtime

    def backdate_tag(self, repo: str, tag: str, seconds: float) -> float:
        """Make the tag's push `seconds` older (a lag that no fast machine rounds to 0)."""
        when = time.time() - seconds
        os.utime(self.tag_link(repo, tag), (when, when))
        return when

    def synced(self, subpath: str = "") -> None:
        done = self.sync.run(subpath)
        assert done.returncode in (0, 24), done.stderr  # 24: files vanished, the usual race


@contextmanager
def running_pair(root: Path, systemd: FakeSystemd) -> Iterator[Pair]:
    started: list[Stoppable] = []
    try:
        registries = start_registries(root, started)
        sync = SyncUnit(systemd, registries.rsyncd.url, registries.standby.data_dir)
        # the active has no sync unit installed (not-found), as it should be
        active_systemd = FakeSystemd(root / "systemd-active", boot=systemd.boot)
        active, standby = registries.active, registries.standby
        yield Pair(root, active, standby, sync, Pusher(active.url), active_systemd)
    finally:
        for daemon in reversed(started):
            daemon.stop()
