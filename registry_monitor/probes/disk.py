"""disk: the filesystem that holds the registry's data directory.

Same figures as node_exporter's filesystem collector (size, avail, free,
files, files_free, readonly). statvfs on a stale NFS or a dying disk can
block forever in the kernel; the probe runner's time-out and stuck-run
guard keep that from hanging the exporter.

The mount comes from the kernel's mount table, read directly: that is all
psutil.disk_partitions did here, and importing psutil cost as much as the
rest of a disk check.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.config import Config
from registry_monitor.mount_rule import on_own_volume


@dataclass(frozen=True)
class DiskUsage:
    path: str
    mountpoint: str
    device: str
    fstype: str
    size_bytes: int
    avail_bytes: int  # what an unprivileged writer (the registry) can still use
    free_bytes: int  # including the root reserve
    files: int
    files_free: int
    readonly: bool
    on_own_volume: bool | None = None  # data_dir_must_be_mount (mount_rule.py); None: off

    @property
    def used_percent(self) -> float:
        """Used share as df shows it: used / (used + avail)."""
        used = self.size_bytes - self.free_bytes
        usable = used + self.avail_bytes
        return 100.0 * used / usable if usable else 0.0

    @property
    def inodes_used_percent(self) -> float:
        return 100.0 * (self.files - self.files_free) / self.files if self.files else 0.0

    def summary(self) -> str:
        ro = ", READ-ONLY" if self.readonly else ""
        return (
            f"{self.used_percent:.1f}% used, {self.avail_bytes / 2**30:.1f} GiB available, "
            f"{self.inodes_used_percent:.1f}% inodes used{ro}"
        )


MOUNTS = Path("/proc/self/mounts")
_ESCAPED = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    """A mount table field as it is: the kernel writes space, tab, newline and backslash
    as \\ooo (getmntent(3) decodes them the same way); other bytes are as they are."""
    if b"\\" in field:
        field = _ESCAPED.sub(lambda m: bytes([int(m[1], 8)]), field)
    return os.fsdecode(field)


def mounts(table: Path = MOUNTS) -> list[tuple[str, str, str]]:
    """(mountpoint, device, fstype) of every mount in the table, in its order. Lines and
    fields are split as the kernel writes them, on newlines and single spaces only: a
    mount point may hold any other byte, Unicode spaces included."""
    found = []
    for line in table.read_bytes().split(b"\n"):
        fields = line.split(b" ")
        if len(fields) >= 3:
            device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
            found.append((mountpoint, device, fstype))
    return found


def find_mount(path: str, table: Path = MOUNTS) -> tuple[str, str, str]:
    """(mountpoint, device, fstype) of the mount holding path: the longest matching prefix
    (the last one mounted, if two share it)."""
    best = ("/", "unknown", "unknown")
    best_len = -1
    for mp, device, fstype in mounts(table):
        inside = path == mp or path.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) >= best_len:
            best, best_len = (mp, device, fstype), len(mp)
    return best


class DiskProbe:
    name = "disk"

    def __init__(self, config: Config) -> None:
        self.path = config.data_dir
        self.must_be_mount = config.data_dir_must_be_mount

    def __call__(self, deadline: Deadline) -> DiskUsage:
        path = os.path.realpath(self.path)
        if not Path(path).exists():
            raise ProbeFailed(f"data directory {self.path} does not exist")
        st = os.statvfs(path)
        mountpoint, device, fstype = find_mount(path)
        return DiskUsage(
            path=str(self.path),
            mountpoint=mountpoint,
            device=device,
            fstype=fstype,
            size_bytes=st.f_blocks * st.f_frsize,
            avail_bytes=st.f_bavail * st.f_frsize,
            free_bytes=st.f_bfree * st.f_frsize,
            files=st.f_files,
            files_free=st.f_ffree,
            readonly=bool(st.f_flag & os.ST_RDONLY),
            on_own_volume=on_own_volume(self.path, mountpoint, self.must_be_mount),
        )
