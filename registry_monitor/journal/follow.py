"""Follow one unit's entries in the systemd journal with journalctl, by cursor.

Each read runs `journalctl -u UNIT -o json --after-cursor C` and reads its
output until the end, the deadline or the byte budget, whichever first, then
stops it; the cursor of the last whole entry read is where the next read goes
on. journalctl reads the journal's active and archived files alike, so
journald's rotation (by size, time or `journalctl --rotate`) and a restart of
journald or of the registry lose nothing: a cursor names an entry, not a file
offset. An entry vacuumed away before it was read is lost; journalctl then goes
on from the nearest one still there.

Invariants, as for the access log (accesslog/follow.py):
- The first start (no saved cursor) begins at the journal's end: the newest
  entry's cursor is taken, the entry not counted. A unit without entries yet:
  everything it logs from then on is new.
- The cursor is saved in state_dir after each read; the entries are countable
  once it is saved, or once no saved one is left that a restart would read them
  again from. When it can be neither saved nor removed they are not, and the
  next read starts from the saved cursor again.
- journalctl missing, failing or refusing (no read permission on the journal)
  is a note, never an exception; a saved cursor it cannot seek to (its exit
  status says so, with no output) is dropped and the next read starts at the end.
- A line that is not JSON, or over max_line, is skipped and counted.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from registry_monitor.base import Deadline
from registry_monitor.files import statefile
from registry_monitor.journal import entries
from registry_monitor.journal.entries import Completed

JOURNALCTL = "journalctl"
MAX_LINE = 64 * 1024  # a request entry is under 1 KiB
CHUNK = 64 * 1024
# only what entries.parse reads: a tenth of an entry's full size
FIELDS = "MESSAGE"


@dataclass(slots=True)
class JournalBatch:
    entries: int = 0  # whole entries read
    skipped: int = 0  # lines that are no entry (not JSON, over-long)
    bytes_read: int = 0
    note: str | None = None  # why the journal could not be read, or a state-file problem
    failed: bool = False  # journalctl could not be run or failed: nothing read
    stopped: bool = False  # stopped at the deadline or byte budget: more to read
    countable: bool = True


class JournalFollower:
    def __init__(
        self,
        unit: str,
        state_path: Path,
        journalctl: str = JOURNALCTL,
        max_bytes_per_read: int = 16 << 20,
    ) -> None:
        self.unit = unit
        self.state_path = state_path
        self.journalctl = journalctl
        self.max_bytes = max_bytes_per_read
        self.cursor: str | None = None
        self._loaded = False
        self._saved: str | None = None  # the cursor on disk
        self._from_start = False  # the unit had no entry at the first look: all are new

    def read(self, deadline: Deadline, consume: Callable[[Completed], None]) -> JournalBatch:
        """The unit's entries since the last read; each request entry goes to consume.
        Count them only if the returned batch is countable."""
        batch = JournalBatch()
        if not self._loaded:
            state, batch.note = statefile.load(self.state_path)
            cursor = state.get("cursor")
            if state.get("unit") == self.unit and isinstance(cursor, str) and cursor:
                self.cursor = self._saved = cursor
            self._loaded = True
        if self.cursor is None and not self._from_start:
            self._begin_at_end(deadline, batch)
            return batch
        args = ["--after-cursor", self.cursor] if self.cursor else []
        before = self.cursor
        last, code, stderr = self._run(args, deadline, batch, consume)
        if last is not None:
            self.cursor = last
        if code not in (0, None) and batch.entries == 0 and not batch.skipped:
            batch.failed = True
            batch.note = self._failure(code, stderr)
            if before is not None:
                # the saved cursor journalctl cannot seek to (a garbled state file, a
                # journal recreated): start again at the end rather than fail forever
                batch.note += "; dropped the saved cursor: reading on from the journal's end"
                self.cursor, self._from_start = None, False
            return batch
        if stderr and batch.entries == 0:
            batch.note = f"journalctl: {stderr}"  # e.g. no permission to read the journal
        self._keep(batch)
        return batch

    def read_since(
        self, since: float, deadline: Deadline, consume: Callable[[Completed], None]
    ) -> JournalBatch:
        """The unit's entries since a time (check_registry's window); no cursor kept."""
        batch = JournalBatch()
        _, code, stderr = self._run([f"--since=@{int(since)}"], deadline, batch, consume)
        if batch.failed:
            return batch  # could not be run: its note says why
        if code not in (0, None) and batch.entries == 0 and not batch.skipped:
            batch.failed, batch.note = True, self._failure(code, stderr)
        elif stderr and batch.entries == 0:
            batch.note = f"journalctl: {stderr}"
        return batch

    # -- running journalctl --------------------------------------------------------

    def _command(self, extra: list[str]) -> list[str]:
        return [
            self.journalctl,
            "--unit",
            self.unit,
            "--output=json",
            f"--output-fields={FIELDS}",
            "--no-pager",
            *extra,
        ]

    def _begin_at_end(self, deadline: Deadline, batch: JournalBatch) -> None:
        last, code, stderr = self._run(["--lines=1"], deadline, batch, None)
        batch.entries = batch.skipped = 0  # history is not traffic this exporter saw
        if batch.failed:
            return  # journalctl could not be run: look again next time
        if code not in (0, None):
            batch.failed, batch.note = True, self._failure(code, stderr)
            return
        if code is None and last is None:
            return  # stopped before journalctl answered: look again next time
        if last is None and stderr:
            batch.note = f"journalctl: {stderr}"
            return  # perhaps no permission: look again next time
        if last is None:
            self._from_start = True  # no entry yet: everything from now on is new
            return
        self.cursor = last
        self._keep(batch)

    def _run(
        self,
        extra: list[str],
        deadline: Deadline,
        batch: JournalBatch,
        consume: Callable[[Completed], None] | None,
    ) -> tuple[str | None, int | None, str]:
        """(the last whole entry's cursor, journalctl's exit status or None when stopped
        early, the first line of what it wrote to stderr)."""
        try:
            process = subprocess.Popen(
                self._command(extra),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "SYSTEMD_COLORS": "0", "LC_ALL": "C"},
            )
        except OSError as exc:
            batch.failed = True
            batch.note = f"cannot run {self.journalctl}: {exc.strerror or exc}"
            return None, None, ""
        assert process.stdout is not None and process.stderr is not None
        last: str | None = None
        pending, discarding, stopped = b"", False, False
        errors = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            selector.register(process.stderr, selectors.EVENT_READ)
            open_streams = 2
            while open_streams:
                left = deadline.remaining() - min(0.5, deadline.seconds / 10)
                # the budget once an entry is whole: a stop inside the first would
                # read the same part of it again and again
                if left <= 0 or (batch.bytes_read >= self.max_bytes and last is not None):
                    stopped = True
                    break
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.fileobj is process.stderr:
                        errors = (errors + chunk)[:4096]
                        continue
                    batch.bytes_read += len(chunk)
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop()
                    for line in lines:
                        if discarding:
                            discarding = False
                            batch.skipped += 1
                            continue
                        cursor, completed = entries.parse(line) if line else (None, None)
                        if cursor is None:
                            batch.skipped += bool(line)
                            continue
                        last = cursor
                        batch.entries += 1
                        if completed is not None and consume is not None:
                            consume(completed)
                    if len(pending) > MAX_LINE:
                        pending, discarding = b"", True
        batch.stopped = stopped
        if stopped:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)
        if process.returncode is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
        code = None if stopped else process.returncode
        first = errors.decode("utf-8", "replace").strip().splitlines()
        return last, code, first[0][:200] if first else ""

    def _failure(self, code: int, stderr: str) -> str:
        said = f": {stderr}" if stderr else ""
        return f"{self.journalctl} --unit {self.unit} failed (exit status {code}){said}"

    # -- the cursor ----------------------------------------------------------------

    def _keep(self, batch: JournalBatch) -> None:
        if self.cursor is None or self.cursor == self._saved:
            return
        note = statefile.save(self.state_path, {"unit": self.unit, "cursor": self.cursor})
        if note is None:
            self._saved = self.cursor
            return
        removed = statefile.remove(self.state_path)
        if removed is None:
            self._saved = None
            batch.note = (
                f"{note}; removed it, so a restart begins at the journal's end "
                "(entries logged while stopped are not counted, none twice)"
            )
            return
        batch.note = f"{note}; {removed}: entries not counted until the cursor can be saved"
        batch.countable = False
        self.cursor = self._saved  # read them again next time, as a restart would
