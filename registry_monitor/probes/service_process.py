"""What the host knows of a unit's main process (psutil): memory, descriptors, threads.

Running out of file descriptors or memory is how a registry under many pulls
fails before it stops, so the services probe reads them from the unit's
MainPID. A process this user may not inspect (another user's, under
hidepid=, or one that ended between systemctl and here) is a named state:
the figures it would not give are None, never a failed reading.

As another user (the exporter's, watching docker-registry's process), /proc
shows memory, threads, CPU time and start time to anyone, and the limits in
/proc/<pid>/limits too (mode 0444); psutil reads the limit with prlimit(2),
which only the owner or CAP_SYS_RESOURCE may call, so the limit is read from
that file when psutil is refused. The open descriptors are counted by listing
/proc/<pid>/fd, a directory only the owner may list (mode 0500) or a process
with CAP_DAC_READ_SEARCH, which the shipped unit does not hold (docs/metrics.md,
the opt-in drop-in).
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import NamedTuple

import psutil

GONE = "gone"  # ended between systemctl's answer and the read
DENIED = "access denied"
# The figures read, in the order ProcessStatus and the exporter's series give them
FIGURES = ("resident_memory_bytes", "open_fds", "max_fds", "threads", "cpu_seconds")
PROC = Path("/proc")


class ProcessStatus(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """A unit's main process, as far as this user may read it."""

    pid: int
    problem: str | None  # None: all read; else GONE or DENIED (what could be read is kept)
    resident_memory_bytes: int | None
    open_fds: int | None
    max_fds: int | None  # the soft RLIMIT_NOFILE: where open() starts failing
    threads: int | None
    cpu_seconds: float | None  # user + system
    started_at: float | None  # unix time
    unreadable: tuple[str, ...] = ()  # the FIGURES this user may not read (problem DENIED)

    def summary(self) -> str:
        parts = [f"pid {self.pid}"]
        if self.resident_memory_bytes is not None:
            parts.append(f"{self.resident_memory_bytes / 2**20:.1f} MiB resident")
        if self.open_fds is not None:
            limit = "?" if self.max_fds is None else str(self.max_fds)
            parts.append(f"{self.open_fds}/{limit} fds")
        elif self.max_fds is not None:
            parts.append(f"fd limit {self.max_fds}")
        if self.threads is not None:
            parts.append(f"{self.threads} thread{'' if self.threads == 1 else 's'}")
        if self.cpu_seconds is not None:
            parts.append(f"{self.cpu_seconds:.1f} s CPU")
        if self.problem == DENIED and self.unreadable:  # the rest is given above
            names = ", ".join(_NAMES[n] for n in self.unreadable)
            parts.append(f"{names} not readable: {self.problem}")
        elif self.problem is not None:
            parts.append(f"not inspectable: {self.problem}")
        return ", ".join(parts)


def read_process(pid: int) -> ProcessStatus:
    """The figures of process pid; never raises for a process that cannot be read."""
    figures: dict[str, int | float | None] = {}
    problem: str | None = None
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return ProcessStatus(pid, GONE, None, None, None, None, None, None)
    except psutil.AccessDenied:
        return ProcessStatus(pid, DENIED, None, None, None, None, None, None, FIGURES)
    readers = {
        "resident_memory_bytes": lambda: process.memory_info().rss,
        "open_fds": process.num_fds,
        "max_fds": lambda: process.rlimit(resource.RLIMIT_NOFILE)[0],
        "threads": process.num_threads,
        "cpu_seconds": lambda: (lambda t: t.user + t.system)(process.cpu_times()),
        "started_at": process.create_time,
    }
    with process.oneshot():
        for name, read in readers.items():
            try:
                figures[name] = read()
            except psutil.NoSuchProcess:
                return ProcessStatus(pid, GONE, None, None, None, None, None, None)
            except (psutil.AccessDenied, PermissionError):
                figures[name], problem = None, DENIED
    if figures["max_fds"] is None and problem == DENIED:
        figures["max_fds"] = soft_fd_limit(pid)
    max_fds = figures["max_fds"]
    unreadable = tuple(n for n in FIGURES if figures[n] is None)
    return ProcessStatus(
        pid=pid,
        problem=problem if unreadable else None,  # a refusal made good from /proc is none
        resident_memory_bytes=_int(figures["resident_memory_bytes"]),
        open_fds=_int(figures["open_fds"]),
        max_fds=None if max_fds is None or max_fds < 0 else int(max_fds),  # -1: unlimited
        threads=_int(figures["threads"]),
        cpu_seconds=None if figures["cpu_seconds"] is None else float(figures["cpu_seconds"]),
        started_at=None if figures["started_at"] is None else float(figures["started_at"]),
        unreadable=unreadable,
    )


_NAMES = {
    "resident_memory_bytes": "memory",
    "open_fds": "open fds",
    "max_fds": "fd limit",
    "threads": "threads",
    "cpu_seconds": "CPU time",
}


def soft_fd_limit(pid: int) -> int | None:
    """The soft open-files limit from /proc/<pid>/limits (readable by anyone), or None when
    the file cannot be read or has no such line; -1 when unlimited."""
    try:
        text = (PROC / str(pid) / "limits").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Max open files "):
            soft = line[len("Max open files ") :].split()[0]
            return -1 if soft == "unlimited" else int(soft) if soft.isdigit() else None
    return None


def _int(value: int | float | None) -> int | None:
    return None if value is None else int(value)
