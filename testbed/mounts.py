"""Small real filesystems (tmpfs) for disk tests: read-only, or tiny enough to fill.

And filesystems of their own for the registries the tests start, so what the
disk probe reads there is the test's own data, never the host's /tmp fill.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def can_mount() -> str | None:
    """None if tmpfs mounts are possible here, else the reason they are not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    return None


def _mount(path: Path, options: str) -> str | None:
    """Mount a tmpfs at path; None on success, else mount's complaint."""
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else done.stderr.strip() or f"exit {done.returncode}"


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def tmpfs(
    path: Path, size: str = "4m", readonly: bool = False, inodes: int | None = None
) -> Iterator[Path]:
    """Mount a tmpfs at path for the block's duration; unmounted even when the block fails."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if readonly else "")
    if inodes is not None:
        options += f",nr_inodes={inodes}"
    if complaint := _mount(path, options):
        raise OSError(f"cannot mount tmpfs at {path}: {complaint}")
    try:
        yield path
    finally:
        _unmount(path)


class OwnFilesystem:
    """A directory (`path`) on a tmpfs of its own mounted at `mountpoint`, where mounting
    is possible (as root, as CI runs); a plain directory elsewhere. The directory sits
    one level below the mount, as a data directory does on a host, so a test can delete
    or replace it. 512 MiB is a ceiling, not an allocation: a tmpfs takes only the
    memory its files fill, so a registry's few MiB read as about 1 % used."""

    def __init__(self, mountpoint: Path, size: str = "512m") -> None:
        self.mountpoint = mountpoint
        self.path = mountpoint / "data"
        self.size = size
        self.mounted = False

    def start(self) -> OwnFilesystem:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        if can_mount() is None and not self.mounted:
            self.mounted = _mount(self.mountpoint, f"size={self.size},mode=0755") is None
        self.path.mkdir(exist_ok=True)
        return self

    def stop(self) -> None:
        if self.mounted:
            _unmount(self.mountpoint)
            self.mounted = False


@contextlib.contextmanager
def read_only_bind(source: Path, target: Path) -> Iterator[Path]:
    """source bind-mounted at target and made read-only there, as systemd's ReadOnlyPaths=
    does in a sandboxed unit's namespace: the filesystem itself stays writable."""
    target.mkdir(parents=True, exist_ok=True)
    for command in (
        ["mount", "--bind", str(source), str(target)],
        ["mount", "-o", "remount,bind,ro", str(target)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            _unmount(target)
            raise OSError(f"{' '.join(command)}: {done.stderr.strip()}")
    try:
        yield target
    finally:
        _unmount(target)
