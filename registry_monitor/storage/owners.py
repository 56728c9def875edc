"""Rolling sweep for files and directories not owned by the registry's user.

After a failover, a directory the registry cannot write (say, copied in by
root, or by an rsync that did not keep owners) breaks pushes into it. Every
entry must be lstat'ed to know its owner, so the sweep goes one unit at a time
(the top directories, each `blobs/sha256/<xx>/`, each repository's own `_*`
trees) and resumes where it stopped. A run after the first sweeps its share
of the units (the probe's interval over the sweep's period, with a margin),
so every file is looked at within the period and the budget scales with the
tree; the first run of a process (and so every one-shot check) sweeps as far
as the entry cap goes. Every run also stops at the entry cap and after 5% of
the probe's time-out (on a cold cache every lstat is a seek). The count is
the sum of what each unit held when it was last swept.
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
import math
import os
import pwd
import stat
import time
from bisect import bisect_right
from pathlib import Path
from typing import NamedTuple

from registry_monitor.base import Deadline
from registry_monitor.storage.layout import (
    blob_bucket_names,
    blobs_root,
    repositories_root,
    v2_root,
)
from registry_monitor.storage.scan import Scanner

EXAMPLES = 10
RESERVE_SECONDS = 0.5
TIME_SHARE = 0.05  # of the probe's time-out: 12 s of the default 240


class OwnerStatus(NamedTuple):
    user: str | None
    checked: bool  # False: no user configured or no such user on this host
    foreign_files: int | None
    examples: tuple[str, ...]
    entries_this_run: int
    passes_completed: int
    note: str | None


class OwnerSweep:
    def __init__(
        self, data_dir: Path, user: str | None, budget_entries: int, share: float = 1.0
    ) -> None:
        """budget_entries: the cap per run (0: off); share: of the units per run after the first."""
        self.data_dir = data_dir
        # built once: a pass sweeps one unit per blob prefix and per repository
        self._blobs, self._repos = blobs_root(data_dir), repositories_root(data_dir)
        self.user = user
        self.budget = budget_entries
        self.share = share
        self.runs = 0
        self.cursor: str | None = None  # the last unit swept; None: start of a pass
        self._uid = -1
        self.found: dict[str, list[str]] = {}  # unit -> foreign paths (first few)
        self.counts: dict[str, int] = {}  # unit -> foreign entries
        self.passes = 0

    def _status(self, checked: bool, entries: int, note: str | None) -> OwnerStatus:
        examples = [p for unit in sorted(self.found) for p in self.found[unit]][:EXAMPLES]
        return OwnerStatus(
            user=self.user,
            checked=checked,
            foreign_files=sum(self.counts.values()) if checked else None,
            examples=tuple(examples),
            entries_this_run=entries,
            passes_completed=self.passes,
            note=note,
        )

    def run(self, scanner: Scanner, deadline: Deadline) -> OwnerStatus:
        if self.user is None or self.budget == 0:
            return self._status(False, 0, "owner check disabled")
        try:
            self._uid = pwd.getpwnam(self.user).pw_uid
        except KeyError:
            return self._status(
                False, 0, f"user {self.user} does not exist on this host; owner check skipped"
            )
        names = scanner.repository_names()
        units = ["", *(f"b/{b:02x}" for b in range(256)), *(f"r/{n}" for n in names)]
        i = 0 if self.cursor is None else bisect_right(units, self.cursor)
        entries = swept = 0
        stop = time.monotonic() + TIME_SHARE * deadline.seconds
        want = len(units) if not self.runs else math.ceil(min(1.0, self.share) * len(units))
        self.runs += 1
        listed = blob_bucket_names(str(self._blobs))
        while (
            entries < self.budget
            and swept < want
            and time.monotonic() < stop
            and deadline.remaining() > RESERVE_SECONDS
        ):
            if i >= len(units):  # a pass is complete: forget units that are gone
                self.passes += 1
                live = set(units)
                self.counts = {u: c for u, c in self.counts.items() if u in live}
                self.found = {u: p for u, p in self.found.items() if u in live}
                self.cursor, i = None, 0
                continue
            unit = units[i]
            count, examples, seen = self._sweep(unit, names, listed)
            entries += seen
            swept += 1
            self.counts.pop(unit, None)
            self.found.pop(unit, None)
            if count:
                self.counts[unit], self.found[unit] = count, examples
            self.cursor = unit
            i += 1
        if i >= len(units) and swept:
            self.passes += 1
            self.cursor = None
        note = None if self.passes else "first pass over the tree not finished yet"
        return self._status(True, entries, note)

    def _sweep(
        self, unit: str, names: list[str], listed: set[str] | None
    ) -> tuple[int, list[str], int]:
        """(foreign entries, first few of them, entries looked at) of one unit; `listed`:
        the entries of blobs/sha256/ this run (None: unknown)."""
        blobs, repos = self._blobs, self._repos
        if unit == "":
            docker = self.data_dir / "docker"
            tops = [self.data_dir, docker, docker / "registry", v2_root(self.data_dir)]
            tops += [blobs.parent, blobs, repos]
            # namespace directories: parents of repositories that are not one themselves
            spaces = {n.rsplit("/", i)[0] for n in names for i in range(1, n.count("/") + 1)}
            tops += [repos / s for s in sorted(spaces)]
            return self._check([str(p) for p in tops], [])
        kind, _, name = unit.partition("/")
        if kind == "b":
            if listed is not None and name not in listed:
                return 0, [], 0  # not there: what its lstat would have found
            return self._check([], [f"{blobs}/{name}"])
        repo = f"{repos}/{name}"
        try:
            with os.scandir(repo) as it:
                own = [e.path for e in it if e.name.startswith("_")]
        except OSError:
            return 0, [], 0
        # the repository directory and its own `_*` trees; nested repositories
        # below it are units of their own
        return self._check([repo], own)

    def _check(self, roots: list[str], trees: list[str]) -> tuple[int, list[str], int]:
        count = seen = 0
        examples: list[str] = []
        base = str(self.data_dir) + "/"
        uid = self._uid

        def look(path: str, st_uid: int) -> None:
            nonlocal count, seen
            seen += 1
            if st_uid != uid:
                count += 1
                if len(examples) < EXAMPLES:
                    examples.append(f"{path.removeprefix(base)} (uid {st_uid})")

        stack: list[str] = []
        for path, walk in [*((r, False) for r in roots), *((t, True) for t in trees)]:
            try:
                st = os.lstat(path)
            except OSError:
                continue
            look(path, st.st_uid)
            if walk and stat.S_ISDIR(st.st_mode):
                stack.append(path)
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    for entry in it:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        look(entry.path, st.st_uid)
                        if stat.S_ISDIR(st.st_mode):
                            stack.append(entry.path)
            except OSError:
                continue
        return count, examples, seen
