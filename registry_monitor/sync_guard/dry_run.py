"""What the next sync would delete, asked of rsync itself: the same source, `--dry-run`.

`rsync --dry-run --delete --itemize-changes -a SOURCE/ DATA_DIR/` walks both
trees as the sync unit's run does and prints one line per change without
making any: `*deleting   PATH` for what this node has and the source does not,
`>f+++++++++ PATH` for a file it would create, `cd+++++++++ PATH/` for a new
directory. Counting those lines by the registry's layout (tag links, blob
data files, a repository's `_layers/` directory) gives what the run would
erase, in the very terms rsync will act on: no second reading of the source
(the active's exporter, its clock, its scan's age) can disagree with it.

The output is read line by line as it comes (an empty source lists every
file of this node, 100k lines and more) and never held; only the deletions
the reference check needs by name (blobs, revision and `_layers` links, tag
links deleted or rewritten) are kept, up to MAX_KEPT. The run is bounded
by the deadline: rsync is killed when it passes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from registry_monitor.base import Deadline, ProbeFailed

RSYNC = "/usr/bin/rsync"
V2 = "docker/registry/v2/"
TAG_LINK = re.compile(r"repositories/(.+)/_manifests/tags/([^/]+)/current/link")
BLOB_DATA = re.compile(r"blobs/sha256/[0-9a-f]{2}/([0-9a-f]{64})/data")
LAYERS_DIR = re.compile(r"repositories/(.+)/_layers/")
REVISION_LINK = re.compile(r"repositories/(.+)/_manifests/revisions/sha256/([0-9a-f]{64})/link")
LAYER_LINK = re.compile(r"repositories/(.+)/_layers/sha256/([0-9a-f]{64})/link")
EXAMPLES = 10
# Deletions kept by name for the reference check (references.py), at most this many in
# all: an empty source lists every file here, and source_shrunk refuses that anyway.
MAX_KEPT = 100_000
OK_EXITS = frozenset({0, 24})  # 24: files vanished on the source while listing


@dataclass(frozen=True, slots=True)
class DryRun:
    """What one sync from `source` would do to this node's data directory, by rsync."""

    source: str
    deleted_tags: int
    deleted_blobs: int
    deleted_repositories: int
    added_tags: int
    added_repositories: int
    deleted_examples: tuple[str, ...]  # "repo:tag", the first EXAMPLES
    exit_code: int
    removals: Removals | None = None  # by name, for references.py; None: more than MAX_KEPT


@dataclass(frozen=True, slots=True)
class Removals:
    """What the run would delete or rewrite, by name: what references.py weighs against
    the tags the source keeps."""

    blobs: dict[int, str]  # blob key (layout.digest_key) -> its hex digest
    revisions: dict[str, dict[int, str]]  # repository -> manifest key -> hex digest
    layers: dict[str, dict[int, str]]  # repository -> blob key -> hex digest, `_layers` links
    tags: frozenset[tuple[str, str]]  # (repository, tag) whose link is deleted or rewritten

    def any_content(self) -> bool:
        return bool(self.blobs or self.revisions or self.layers)


class _Counter:
    def __init__(self) -> None:
        self.deleted_tags = self.deleted_blobs = self.deleted_repositories = 0
        self.added_tags = self.added_repositories = 0
        self.examples: list[str] = []
        self.blobs: dict[int, str] = {}
        self.revisions: dict[str, dict[int, str]] = {}
        self.layers: dict[str, dict[int, str]] = {}
        self.tags: set[tuple[str, str]] = set()
        self.kept = 0  # entries met for the four above: past MAX_KEPT, removals() is None

    def _keep(self) -> bool:
        self.kept += 1
        return self.kept <= MAX_KEPT

    def removals(self) -> Removals | None:
        if self.kept > MAX_KEPT:
            return None
        return Removals(self.blobs, self.revisions, self.layers, frozenset(self.tags))

    def line(self, line: str) -> None:
        change, _, path = line.partition(" ")
        path = path.lstrip(" ")
        if not path.startswith(V2):
            return
        path = path[len(V2) :]
        if change == "*deleting":
            if match := TAG_LINK.fullmatch(path):
                self.deleted_tags += 1
                if len(self.examples) < EXAMPLES:
                    self.examples.append(f"{match[1]}:{match[2]}")
                if self._keep():
                    self.tags.add((match[1], match[2]))
            elif match := BLOB_DATA.fullmatch(path):
                self.deleted_blobs += 1
                if self._keep():
                    self.blobs[int(match[1][:16], 16)] = match[1]
            elif LAYERS_DIR.fullmatch(path):
                self.deleted_repositories += 1
            elif match := REVISION_LINK.fullmatch(path):
                if self._keep():
                    self.revisions.setdefault(match[1], {})[int(match[2][:16], 16)] = match[2]
            elif (match := LAYER_LINK.fullmatch(path)) and self._keep():
                self.layers.setdefault(match[1], {})[int(match[2][:16], 16)] = match[2]
        elif change.endswith("+++++++++"):  # created: a file (>f) or a directory (cd)
            if TAG_LINK.fullmatch(path):
                self.added_tags += 1
            elif LAYERS_DIR.fullmatch(path):
                self.added_repositories += 1
        elif (match := TAG_LINK.fullmatch(path)) and self._keep():
            self.tags.add((match[1], match[2]))  # rewritten: the source's tag moved


def command(source: str, data_dir: Path, rsync: str = RSYNC) -> list[str]:
    return [
        rsync,
        "--dry-run",
        "--delete",
        "--itemize-changes",
        "-a",
        source.rstrip("/") + "/",
        f"{data_dir}/",
    ]


def dry_run(source: str, data_dir: Path, deadline: Deadline, rsync: str = RSYNC) -> DryRun:
    """Count what a sync from `source` would delete here; ProbeFailed when rsync could not
    say (the source unreachable, the module missing, the deadline passed)."""
    counter = _Counter()
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                command(source, data_dir, rsync),
                stdout=subprocess.PIPE,
                stderr=errors,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "LC_ALL": "C"},
                text=True,
                errors="replace",
                start_new_session=True,  # killed as a group: rsync forks a receiver
            )
        except OSError as exc:
            raise ProbeFailed(f"cannot run {rsync}: {exc.strerror or exc}") from None
        timer = threading.Timer(deadline.remaining(), _kill, (proc,))
        timer.daemon = True
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                counter.line(line.rstrip("\n"))
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                _kill(proc)
                proc.wait()
        if deadline.expired() and code not in OK_EXITS:
            raise ProbeFailed(f"rsync --dry-run from {source} still running at the deadline")
        if code not in OK_EXITS:
            errors.seek(0)
            said = _reason(errors.read(8192).decode("utf-8", "replace"))
            raise ProbeFailed(f"rsync --dry-run from {source} exited {code}: {said}")
    return DryRun(
        source=source,
        deleted_tags=counter.deleted_tags,
        deleted_blobs=counter.deleted_blobs,
        deleted_repositories=counter.deleted_repositories,
        added_tags=counter.added_tags,
        added_repositories=counter.added_repositories,
        deleted_examples=tuple(counter.examples),
        exit_code=code,
        removals=counter.removals(),
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)


def _reason(text: str) -> str:
    """rsync's own reason: its first error line (the last ones repeat the exit code)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("@ERROR") or "failed" in line or "error" in line.lower():
            return line[:300]
    return lines[0][:300] if lines else "no message"
