"""Drive the fake systemctl from tests: put it on PATH and set unit states.

The fake has a boot time (`boot`, unix seconds): like a real systemd it can
show no timestamp before it, and `set_unit` refuses one. Older runs exist
only where production keeps them, in the probes' state files. By default it
booted when the host did; FAKE_SYSTEMD_UPTIME=<seconds> in the environment
makes every fake systemd a freshly booted one, to run the suite as on a
machine booted that long ago.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
from pathlib import Path

import psutil

import testbed.fake_systemctl as fake_module

UPTIME_ENV = "FAKE_SYSTEMD_UPTIME"


def default_boot() -> float:
    uptime = os.environ.get(UPTIME_ENV)
    if uptime:
        return time.time() - float(uptime)
    return psutil.boot_time()


def ago(seconds: float) -> float:
    """A time `seconds` in the past, in whole seconds as `systemctl --timestamp=unix` shows
    it. A fake systemd refuses one before its boot: older runs go in the state file."""
    return float(int(time.time() - seconds))


class BeforeBoot(AssertionError):
    """A test asked systemd to show a time before it booted, which no systemd can."""


class FakeSystemd:
    def __init__(self, root: Path, boot: float | None = None) -> None:
        self.boot = default_boot() if boot is None else boot
        self.state_dir = root / "units"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.systemctl = self.bin_dir / "systemctl"
        self.systemctl.write_text(
            # -S: no site-packages (it needs none), so it starts about as fast as Python can;
            # a real systemctl is compiled, and check_registry's benchmarks count its runs
            f"#!{sys.executable} -S\n"
            "import os, sys\n"
            # its own units whatever the environment says: each node of a pair has its own
            f"os.environ['FAKE_SYSTEMD_DIR'] = {str(self.state_dir)!r}\n"
            f"sys.path.insert(0, {str(Path(fake_module.__file__).parent)!r})\n"
            "import fake_systemctl\n"
            "sys.exit(fake_systemctl.main(sys.argv[1:]))\n"
        )
        self.systemctl.chmod(0o755)

    def recorded_systemctl(self, directory: Path, log: Path) -> Path:
        """A `systemctl` in directory that appends each run's arguments, one line a run, to
        log, then runs this fake: what a caller asked of systemd, and how often."""
        directory.mkdir(parents=True, exist_ok=True)
        wrapper = directory / "systemctl"
        wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {self.systemctl} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def ago(self, seconds: float) -> float:
        """Like `ago`, but held back to a whole second after this systemd booted: "up for
        an hour" on a host up that long, "up since boot" on a freshly booted one."""
        return max(ago(seconds), float(int(self.boot) + 1))

    @property
    def env(self) -> dict[str, str]:
        return {"FAKE_SYSTEMD_DIR": str(self.state_dir)}

    def set_unit(
        self,
        unit: str,
        active_state: str = "active",
        sub_state: str | None = None,
        started_at: float | None = None,
        restarts: int = 0,
        main_pid: int = 0,
        load_state: str = "loaded",
        extra: dict[str, object] | None = None,
        unix: dict[str, float | None] | None = None,
    ) -> None:
        default_sub = {"active": "running", "failed": "failed", "inactive": "dead"}
        props = {
            "LoadState": load_state,
            "ActiveState": active_state,
            "SubState": sub_state or default_sub.get(active_state, active_state),
            "NRestarts": restarts,
            "MainPID": main_pid,
            **(extra or {}),
        }
        times: dict[str, float | None] = {
            "ActiveEnterTimestamp": started_at
            if started_at is not None
            else max(time.time() - 60, self.boot)
        }
        times.update(unix or {})
        for key, when in times.items():
            if when and when < self.boot:
                raise BeforeBoot(
                    f"{unit} {key} {when:.0f} is {self.boot - when:.0f}s before this fake "
                    "systemd booted, which no systemd can show (older sync runs belong in "
                    "the sync probe's state file)"
                )
        # atomically: a systemctl run reading a half-written file would fail as systemd never does
        # marshal: the fake reads it without importing json (and re, and enum) on every run
        path = self.state_dir / f"{unit}.marshal"
        temp = path.with_suffix(".tmp")
        state = {"properties": props, "unix": {k: v for k, v in times.items() if v}}
        temp.write_bytes(marshal.dumps(state))
        temp.replace(path)

    def hang(self, seconds: float = 3600) -> None:
        (self.state_dir / "HANG").write_text(str(seconds))

    def bus_down(self) -> None:
        (self.state_dir / "DOWN").write_text("")
