"""disk: the filesystem that holds the registry's data directory.

Same figures as node_exporter's filesystem collector (size, avail, free,
files, files_free, readonly). statvfs on a stale NFS or a dying disk can
block forever in the kernel; the probe runner's time-out and stuck-run
guard keep that from hanging the exporter.

Sizes from psutil.disk_usage (inodes from statvfs, which psutil does not
report); the mount from psutil.disk_partitions. Read-only is the filesystem's
own state (its superblock, in /proc/self/mountinfo), not this process's view
of it: under the hardened unit the data directory is a read-only bind mount in
the exporter's namespace while the registry writes to it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.config import Config
from registry_monitor.config.mount_rule import on_own_volume


class DiskUsage(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """The filesystem holding data_dir: its mount and its usage."""

    path: str
    mountpoint: str
    device: str
    fstype: str
    size_bytes: int
    avail_bytes: int  # what an unprivileged writer (the registry) can still use
    free_bytes: int  # including the root reserve
    files: int
    files_free: int
    readonly: bool  # the filesystem itself (its superblock) is read-only
    on_own_volume: bool | None = None  # data_dir_must_be_mount (config/mount_rule.py); None: off
    mount_readonly: bool = False  # the mount this process sees is (a sandbox's bind mount)

    @property
    def used_percent(self) -> float:
        """Used share as df shows it: used / (used + avail)."""
        share = self.used_percent_with(0)
        return 0.0 if share is None else share

    def used_percent_with(self, more_bytes: int) -> float | None:
        """The used share once more_bytes are written; None when nothing is usable
        (size 0, or all of it reserved)."""
        used = self.size_bytes - self.free_bytes
        usable = used + self.avail_bytes
        return 100.0 * (used + more_bytes) / usable if usable else None

    @property
    def inodes_used_percent(self) -> float:
        return 100.0 * (self.files - self.files_free) / self.files if self.files else 0.0


MOUNTINFO = Path("/proc/self/mountinfo")
_ESCAPED = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    """A mount table field as it is: the kernel writes space, tab, newline and backslash
    as \\ooo; other bytes are as they are."""
    if b"\\" in field:
        field = _ESCAPED.sub(lambda m: bytes([int(m[1], 8)]), field)
    return os.fsdecode(field)


def find_mount(path: str, partitions: list[Any] | None = None) -> tuple[str, str, str, str]:
    """(mountpoint, device, fstype, this mount's options) of the mount holding path, from
    psutil's partitions: the longest matching prefix (the last one mounted, if two share
    it: the one statvfs sees)."""
    best = ("/", "unknown", "unknown", "")
    best_len = -1
    for part in psutil.disk_partitions(all=True) if partitions is None else partitions:
        mp = part.mountpoint
        inside = path == mp or path.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) >= best_len:
            best, best_len = (mp, part.device, part.fstype, part.opts), len(mp)
    return best


def superblock_options(mountpoint: str, table: Path = MOUNTINFO) -> frozenset[str] | None:
    """The options of the filesystem itself (its superblock: the field after the
    ` - fstype source` separator in mountinfo) mounted last at mountpoint; None if absent.

    Not the mount's own flags: a sandbox (ProtectSystem=strict, ReadOnlyPaths=) makes a
    read-only bind mount of a writable filesystem in the exporter's namespace only, and
    the registry, outside it, writes there as ever."""
    found = None
    for line in table.read_bytes().split(b"\n"):
        fields = line.split(b" ")
        if len(fields) < 10 or b"-" not in fields[6:]:
            continue
        separator = fields.index(b"-", 6)
        if len(fields) > separator + 3 and _unescape(fields[4]) == mountpoint:
            found = frozenset(os.fsdecode(fields[separator + 3]).split(","))
    return found


class DiskProbe:
    name = "disk"

    def __init__(self, config: Config) -> None:
        self.path = config.data_dir
        self.must_be_mount = config.data_dir_must_be_mount

    def __call__(self, deadline: Deadline) -> DiskUsage:
        path = os.path.realpath(self.path)
        if not Path(path).exists():
            raise ProbeFailed(f"data directory {self.path} does not exist")
        usage = psutil.disk_usage(path)
        st = os.statvfs(path)  # inodes: psutil does not report them
        mountpoint, device, fstype, options = find_mount(path)
        superblock = superblock_options(mountpoint)
        mount_readonly = "ro" in options.split(",")
        return DiskUsage(
            path=str(self.path),
            mountpoint=mountpoint,
            device=device,
            fstype=fstype,
            size_bytes=usage.total,
            avail_bytes=usage.free,
            free_bytes=usage.total - usage.used,
            files=st.f_files,
            files_free=st.f_ffree,
            readonly=mount_readonly if superblock is None else "ro" in superblock,
            mount_readonly=mount_readonly,
            on_own_volume=on_own_volume(self.path, mountpoint, self.must_be_mount),
        )
