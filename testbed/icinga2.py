"""Real Icinga 2 (Debian icinga2-bin) on a config in a temporary directory.

Every path Icinga writes to (cache, logs, run dir, state, spool) is pointed
into the work directory with -D constants, and it runs as the current user,
so neither validation nor the daemon needs root or touches /var.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from testbed.daemon import Daemon

ICINGA2_BIN = shutil.which("icinga2") or "/usr/sbin/icinga2"

# Started daemons get these objects: the checker, external commands on a FIFO,
# and every check result written out at once (perfdata files rotated each second).
DAEMON_OBJECTS = """
object CheckerComponent "checker" { }
object ExternalCommandListener "command" { command_path = "{dir}/icinga2.cmd" }
object PerfdataWriter "perfdata" {
  service_perfdata_path = "{dir}/perfdata/service"
  service_temp_path = "{dir}/perfdata/service.tmp"
  host_perfdata_path = "{dir}/perfdata/host"
  host_temp_path = "{dir}/perfdata/host.tmp"
  service_format_template = "$host.name$!$service.name$"
  rotation_interval = 1s
}
"""


def read_netstrings(path: Path) -> list[dict[str, Any]]:
    """Icinga's object cache and state file: `<len>:<json>,` records."""
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    pos = 0
    while pos < len(data):
        colon = data.index(b":", pos)
        size = int(data[pos:colon])
        records.append(json.loads(data[colon + 1 : colon + 1 + size]))
        pos = colon + 2 + size
    return records


class Icinga2:
    def __init__(self, workdir: Path, config: str) -> None:
        self.workdir = workdir
        for sub in ("cache", "log", "run/icinga2/cmd", "data", "spool", "perfdata"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "icinga2.conf"
        self.config_path.write_text(config)
        self.daemon: Daemon | None = None

    def defines(self) -> list[str]:
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        d = self.workdir
        pairs = {
            "CacheDir": d / "cache",
            "LogDir": d / "log",
            "InitRunDir": d / "run",
            "DataDir": d / "data",
            "SpoolDir": d / "spool",
            "RunAsUser": user,
            "RunAsGroup": group,
        }
        return [f"-DConfiguration.{key}={value}" for key, value in pairs.items()]

    def validate(self) -> subprocess.CompletedProcess[str]:
        """`icinga2 daemon -C`: parse, evaluate and validate the config; nothing runs."""
        return subprocess.run(
            [ICINGA2_BIN, "daemon", "-C", "-c", str(self.config_path), *self.defines()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def objects(self, kind: str) -> dict[str, dict[str, Any]]:
        """Objects of a type from the cache -C wrote, by full name (host!service)."""
        records = read_netstrings(self.workdir / "cache" / "icinga2.debug")
        return {r["properties"]["__name"]: r["properties"] for r in records if r["type"] == kind}

    def start(self) -> Icinga2:
        text = self.config_path.read_text()
        self.config_path.write_text(text + DAEMON_OBJECTS.replace("{dir}", str(self.workdir)))
        self.daemon = Daemon(
            [ICINGA2_BIN, "daemon", "-c", str(self.config_path), *self.defines()],
            self.workdir / "daemon.log",
            # SIGTERM: Icinga writes its state file on the way out. A loaded machine can
            # make that slow; SIGKILL after the default 10 s would lose the file.
            stop_timeout=60,
        )
        fifo = self.workdir / "icinga2.cmd"
        self.daemon.start_and_wait(fifo.is_fifo, 30, "Icinga 2's external command pipe")
        return self

    def command(self, line: str) -> None:
        now = int(time.time())
        with (self.workdir / "icinga2.cmd").open("w") as fifo:
            fifo.write(f"[{now}] {line.replace('$now', str(now))}\n")

    def results_written(self) -> set[str]:
        """host!service names whose check results the perfdata writer has rotated out."""
        names: set[str] = set()
        for path in (self.workdir / "perfdata").glob("service.*"):
            if path.suffix != ".tmp":
                names.update(path.read_text().split())
        return names

    def stop(self) -> None:
        # SIGTERM to the umbrella process alone, which stops its worker and waits for it:
        # the worker, signalled by both at once, could exit before writing its state file
        if self.daemon is not None:
            self.daemon.stop(leader_only=True)

    def check_results(self) -> dict[str, dict[str, Any]]:
        """The last check result of every service, from the state file (after stop)."""
        results: dict[str, dict[str, Any]] = {}
        for record in read_netstrings(self.workdir / "data" / "icinga2.state"):
            result = record.get("update", {}).get("last_check_result")
            if record.get("type") == "Service" and result:
                results[record["name"]] = result
        return results
