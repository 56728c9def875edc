"""Real rsync between two registries, as the Toolforge sync unit does it.

`RsyncDaemon` exports the active's data directory as the module
`docker-registry-sync` (`rsync --daemon --no-detach` on 127.0.0.1); `SyncUnit`
runs the standby's client (`rsync --delete -a rsync://.../docker-registry-sync/
<data>/`) and records each run in the fake systemd the way systemd shows a
oneshot service and its timer.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from testbed.daemon import Daemon
from testbed.systemd import FakeSystemd
from testbed.waiting import free_port, port_open

RSYNC_BIN = shutil.which("rsync") or "/usr/bin/rsync"
MODULE = "docker-registry-sync"
SYNC_UNIT = "rsync-docker-registry-sync.service"
PERIOD = "10min"  # the Toolforge timer's OnUnitActiveSec=


class RsyncDaemon:
    def __init__(self, workdir: Path, source: Path, port: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"rsync://127.0.0.1:{self.port}/{MODULE}/"
        lines = [
            f"pid file = {workdir / 'rsyncd.pid'}",
            "use chroot = no",
            f"log file = {workdir / 'rsyncd.log'}",
        ]
        if os.geteuid() == 0:  # as root, rsyncd would switch to "nobody" and read nothing
            lines += [
                f"uid = {pwd.getpwuid(os.getuid()).pw_name}",
                f"gid = {grp.getgrgid(os.getgid()).gr_name}",
            ]
        lines += [f"[{MODULE}]", f"    path = {source}", "    read only = yes"]
        self.config_path = workdir / "rsyncd.conf"
        self.config_path.write_text("\n".join(lines) + "\n")
        self.daemon = Daemon(
            [
                RSYNC_BIN,
                "--daemon",
                "--no-detach",
                f"--config={self.config_path}",
                "--address=127.0.0.1",
                f"--port={self.port}",
            ],
            workdir / "rsyncd.out",
            name="rsync daemon",
            more_logs=[workdir / "rsyncd.log"],
        )

    def start(self) -> RsyncDaemon:
        self.daemon.start_and_wait(
            lambda: port_open(self.port), 10, f"rsync daemon on port {self.port}"
        )
        return self

    def stop(self) -> None:
        self.daemon.stop()


def pull(url: str, dest: Path, subpath: str = "") -> subprocess.CompletedProcess[str]:
    """The sync unit's command; `subpath` pulls one part only (a half-done sync)."""
    target = dest / subpath if subpath else dest
    target.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [RSYNC_BIN, "--delete", "-a", f"{url}{subpath}", f"{target}/"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class SyncUnit:
    """The standby's rsync oneshot and its timer, with each run recorded in fake systemd."""

    def __init__(
        self,
        systemd: FakeSystemd,
        url: str,
        dest: Path,
        unit: str = SYNC_UNIT,
        period: str = PERIOD,
    ) -> None:
        self.systemd = systemd
        self.period = period
        self.url = url
        self.dest = dest
        self.unit = unit
        self.timer = unit.removesuffix(".service") + ".timer"
        self.last_start: float | None = None
        self.last_exit: tuple[int, float] | None = None
        self.timer_active = True
        self.systemd.set_unit(self.unit, "inactive", sub_state="dead")
        self.set_timer(active=True)

    def set_timer(self, active: bool) -> None:
        self.timer_active = active
        self.systemd.set_unit(
            self.timer,
            "active" if active else "inactive",
            sub_state="waiting" if active else "dead",
            extra={"TimersMonotonic": f"{{ OnUnitActiveUSec={self.period} ; next_elapse=0 }}"},
            unix={"LastTriggerUSec": self.last_start},
        )

    def record(self, exit_code: int | None, start: float, end: float | None = None) -> None:
        """Show a run as systemd does: activating while it runs, then inactive or failed."""
        self.last_start = start
        if exit_code is None:
            self.systemd.set_unit(
                self.unit,
                "activating",
                sub_state="start",
                extra={"Result": "success", "ExecMainStatus": 0, "ExecMainCode": 0},
                unix={"ExecMainStartTimestamp": start},
            )
        else:
            end = end if end is not None else time.time()
            self.last_exit = (exit_code, end)
            self.systemd.set_unit(
                self.unit,
                "inactive" if exit_code == 0 else "failed",
                sub_state="dead" if exit_code == 0 else "failed",
                extra={
                    "Result": "success" if exit_code == 0 else "exit-code",
                    "ExecMainStatus": exit_code,
                    "ExecMainCode": 1,
                },
                unix={"ExecMainStartTimestamp": start, "ExecMainExitTimestamp": end},
            )
        self.set_timer(active=self.timer_active)

    def run(self, subpath: str = "") -> subprocess.CompletedProcess[str]:
        start = time.time()
        self.record(None, start)
        done = pull(self.url, self.dest, subpath)
        self.record(done.returncode, start)
        return done
