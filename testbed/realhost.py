"""Real hosts: bookworm containers booted with systemd as PID 1 (root only).

`systemd-nspawn -D ROOT --register=no --keep-unit -b`: the build machines run no systemd
themselves, so the container is neither registered with machined nor given a scope unit.
Commands run inside through `nsenter -t <leader> -a` (every namespace of the container's
PID 1). Each host has a network namespace the test made (`Network`): a host alone has
only its loopback, a pair a veth link between the two; never the outside.

Cleaning up is the fixture's: `Host.stop` powers the container off (SIGTERM to nspawn
is systemd's poweroff), kills it if it will not go, and removes its tree; `Network.close`
deletes the namespaces (which removes the veth pair). Both are safe to call twice and
after a failed start.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed import rootfs

BOOT_TIMEOUT = 120  # seconds for systemd to reach running on a loaded machine
STOP_TIMEOUT = 30


class HostFailed(RuntimeError):
    """A host that did not boot or a command that failed inside, with its output."""


@dataclass
class Network:
    """Network namespaces for a test's hosts: `names[i]` gets `addresses[i]` on a veth
    link to the next one (a pair), or only its loopback (a host alone)."""

    prefix: str
    names: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, count: int) -> Network:
        net = cls(f"rmt{os.getpid()}x{time.monotonic_ns() % 100000}")
        try:
            for i in range(count):
                name = f"{net.prefix}n{i}"
                _ip("netns", "add", name)
                net.names.append(name)
                _ip("-n", name, "link", "set", "lo", "up")
            if count == 2:
                a, b = net.names
                _ip("link", "add", f"{net.prefix}a", "type", "veth", "peer", f"{net.prefix}b")
                for side, ns, address in ((f"{net.prefix}a", a, 1), (f"{net.prefix}b", b, 2)):
                    _ip("link", "set", side, "netns", ns)
                    _ip("-n", ns, "link", "set", side, "name", "eth0")
                    _ip("-n", ns, "addr", "add", f"10.231.0.{address}/24", "dev", "eth0")
                    _ip("-n", ns, "link", "set", "eth0", "up")
                    net.addresses.append(f"10.231.0.{address}")
        except BaseException:
            net.close()
            raise
        return net

    def path(self, i: int) -> str:
        return f"/run/netns/{self.names[i]}"

    def close(self) -> None:
        for name in self.names:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.names.clear()


def _ip(*args: str) -> None:
    run = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if run.returncode != 0:
        raise HostFailed(f"ip {' '.join(args)}: {run.stderr.strip()}")


@dataclass
class Host:
    """One booted container; `root` is its tree as seen from outside."""

    name: str
    root: Path
    netns: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    leader: int | None = None

    @classmethod
    def boot(cls, name: str, workdir: Path, netns: str) -> Host:
        workdir.mkdir(parents=True, exist_ok=True)
        host = cls(name, workdir / "root", netns, workdir / "boot.log")
        rootfs.layered_over(rootfs.cached_tree(), host.root)
        (host.root / "etc/hostname").write_text(name + "\n")
        with host.log.open("wb") as log:
            host.process = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-D",
                    str(host.root),
                    "--register=no",
                    "--keep-unit",
                    "-b",
                    f"--hostname={name}",
                    f"--network-namespace-path={netns}",
                    # /srv/registry is a volume of its own on the hosts (a Cinder volume
                    # since 2021, mounted outside the registry profile): here a tmpfs
                    "--tmpfs=/srv/registry:mode=0775",
                    "--console=read-only",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            host.leader = host._wait_for_leader()
            host._wait_until_running()
        except BaseException:
            host.stop()
            raise
        return host

    def _wait_for_leader(self) -> int:
        """The container's PID 1, as the host sees it: nspawn's child running systemd."""
        assert self.process is not None
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HostFailed(
                    f"{self.name}: nspawn exited {self.process.returncode}: {self.tail()}"
                )
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            for pid in children.read_text().split() if children.exists() else ():
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return int(pid)
                except OSError:
                    continue
            time.sleep(0.05)
        raise HostFailed(f"{self.name}: no systemd after {BOOT_TIMEOUT} s: {self.tail()}")

    def _wait_until_running(self) -> None:
        """`systemctl is-system-running --wait`: returns when boot has finished. Until
        systemd's own socket is up it cannot even be asked: asked again then."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            done = self.run(
                ["systemctl", "is-system-running", "--wait"], check=False, timeout=BOOT_TIMEOUT
            )
            state = done.stdout.strip()
            # "offline": asked before systemd marked itself booted (/run/systemd/system)
            if state not in ("", "offline") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if state != "running":
            failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False)
            raise HostFailed(
                f"{self.name}: system {state!r} after boot ({done.stderr.strip()}); failed "
                f"units:\n{failed.stdout}"
            )

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120,
        user: str | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A command inside the container (every namespace of its PID 1)."""
        assert self.leader is not None
        inside = ["runuser", "-u", user, "--", *argv] if user else list(argv)
        run = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", *inside],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
        )
        if check and run.returncode != 0:
            raise HostFailed(
                f"{self.name}: {shlex.join(argv)} exited {run.returncode}:\n"
                f"{run.stdout[-2000:]}{run.stderr[-2000:]}"
            )
        return run

    def in_network(self, argv: Sequence[str]) -> list[str]:
        """argv prefixed to run a program of this machine inside the host's network only."""
        return ["ip", "netns", "exec", Path(self.netns).name, *argv]

    def write(
        self, path: str, content: str | bytes, owner: str = "root:root", mode: int = 0o644
    ) -> None:
        """A file as puppet's `file` resource leaves it: content, owner, group and mode."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
        self.run(["chown", owner, path])
        self.run(["chmod", f"{mode:o}", path])

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", *args], check=check)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # nspawn: systemd's poweroff
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                if self.leader is not None:  # PID 1 of its namespace: takes every process
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.leader, signal.SIGKILL)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        rootfs.remove_tree(self.root)
