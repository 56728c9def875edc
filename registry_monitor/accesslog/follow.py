"""Follow a log file the way `tail -F` does, and remember where it stopped.

Invariants:
- A line is handed out once. The position (device, inode, offset and the
  file's first bytes) is saved to state_dir *before* the lines are returned,
  so a crash loses at most the lines of one read, never counts them twice.
- The first start (no state) begins at the end of the file: history is not
  traffic the exporter saw. A start in the middle of a line skips that line.
- Rename-and-reopen (logrotate, then nginx USR1): the old file is read to its
  end, then the new one from its start. While the new file is still empty and
  the old one still grows, nginx has not reopened yet: keep reading the old.
- copytruncate: the file shrinks below the offset, or its first bytes change
  (truncated and refilled past the offset between two reads): read it again
  from the start.
- A file that disappears (or is missing at the start) is waited for; the
  one that comes back is read from its start.
- After a restart the saved inode is looked for among the rotated siblings
  (`access.log.1`), so lines written between the stop and a rotation are read.
- A partial last line waits for its newline (and is read again after a
  restart). A line longer than max_line is skipped whole and counted.

The file is read as latin-1, one character per byte, so string lengths are
byte offsets; nginx escapes everything outside printable ASCII anyway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from registry_monitor import statefile
from registry_monitor.base import Deadline

HEAD_BYTES = 64  # enough to tell two log files apart: the first line's time stamp
CHUNK_BYTES = 1 << 20
MAX_LINE = 16 * 1024


@dataclass(slots=True)
class Batch:
    lines: list[str] = field(default_factory=list)  # complete lines, without the newline
    overlong: int = 0  # lines skipped for being longer than max_line
    bytes_read: int = 0
    rotations: int = 0  # switches to a new file (renamed, truncated or recreated)
    note: str | None = None  # why nothing could be read, or a state-file problem


@dataclass(slots=True)
class _Open:
    file: IO[bytes]
    device: int
    inode: int
    offset: int  # bytes of this file consumed into lines or the pending partial line
    head: bytes  # its first bytes (up to HEAD_BYTES) when last seen


class Follower:
    def __init__(
        self,
        path: Path,
        state_path: Path,
        max_line: int = MAX_LINE,
        max_bytes_per_read: int = 64 * CHUNK_BYTES,
    ) -> None:
        self.path = path
        self.state_path = state_path
        self.max_line = max_line
        self.max_bytes = max_bytes_per_read
        self._open: _Open | None = None
        self._pending = ""  # a partial last line
        self._discarding = False  # inside a line being skipped (over-long, or started mid-way)
        self._state: dict[str, Any] | None = None  # the saved position, until first used
        self._state_note: str | None = None
        self._was_missing = False  # the file did not exist at the first look: all of it is new

    # -- the one public operation -------------------------------------------------

    def read(self, deadline: Deadline | None = None) -> Batch:
        batch = Batch()
        if self._state is None and self._open is None:
            self._state, self._state_note = statefile.load(self.state_path)
        if self._open is None and not self._first_open(batch):
            return batch
        assert self._open is not None
        while True:
            self._check_truncated(batch)
            got = self._drain(batch, deadline)
            if batch.bytes_read >= self.max_bytes or _late(deadline):
                break  # more next time; the position is saved below
            if not self._switch_if_rotated(batch, grew=got > 0):
                break
        batch.note = batch.note or self._save()
        return batch

    @property
    def position(self) -> tuple[int, int, int] | None:
        """(device, inode, offset of the next unread line) of the file being followed."""
        if self._open is None:
            return None
        return self._open.device, self._open.inode, self._resume_offset()

    def close(self) -> None:
        if self._open is not None:
            self._open.file.close()
            self._open = None

    # -- opening ----------------------------------------------------------------------

    def _first_open(self, batch: Batch) -> bool:
        state, self._state = self._state or {}, {}
        if state.get("path") != str(self.path):
            state = {}  # another file was followed before: start this one afresh
        opened = _open_file(self.path)
        if opened is None:
            batch.note = f"access log {self.path} does not exist (yet)"
            self._state = state  # keep it for when the file appears
            self._was_missing = True
            return False
        saved = _position(state)
        if saved is not None and (saved[0], saved[1]) != (opened.device, opened.inode):
            rotated = self._rotated_sibling(saved[0], saved[1])
            if rotated is not None and self._resume(rotated, saved[2], state):
                opened.file.close()
                return True
            if rotated is not None:
                rotated.file.close()
        if saved is not None and (saved[0], saved[1]) == (opened.device, opened.inode):
            if self._resume(opened, saved[2], state):
                return True
            opened.file.close()
            opened = _open_file(self.path)
            if opened is None:
                return False
        if saved is not None or self._was_missing:
            # the saved file is gone, or there was none: what is at the path now is new
            self._start(opened, 0)
            batch.rotations += 1
            return True
        size = os.fstat(opened.file.fileno()).st_size
        self._start(opened, size)
        if size:
            opened.file.seek(size - 1)
            self._discarding = opened.file.read(1) != b"\n"
        return True

    def _resume(self, opened: _Open, offset: int, state: dict[str, Any]) -> bool:
        head = _pread(opened.file, HEAD_BYTES, 0)
        saved_head = str(state.get("head", "")).encode("latin-1", "replace")
        size = os.fstat(opened.file.fileno()).st_size
        if offset > size or not head.startswith(saved_head[: len(head)]):
            return False
        self._open = opened
        opened.offset, opened.head = offset, head
        opened.file.seek(offset)
        self._discarding = bool(state.get("discarding"))
        return True

    def _rotated_sibling(self, device: int, inode: int) -> _Open | None:
        try:
            siblings = [p for p in self.path.parent.iterdir() if p.name.startswith(self.path.name)]
        except OSError:
            return None
        for sibling in siblings:
            try:
                st = sibling.stat()
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (device, inode):
                return _open_file(sibling)
        return None

    def _start(self, opened: _Open, offset: int) -> None:
        self.close()
        self._open = opened
        opened.offset = offset
        opened.file.seek(offset)
        opened.head = _pread(opened.file, HEAD_BYTES, 0)
        self._pending, self._discarding = "", False

    # -- reading ----------------------------------------------------------------------

    def _drain(self, batch: Batch, deadline: Deadline | None) -> int:
        """Read the open file to its end (or the budget); returns the bytes read."""
        assert self._open is not None
        got = 0
        while batch.bytes_read < self.max_bytes:
            chunk = self._open.file.read(CHUNK_BYTES)
            if not chunk:
                break
            got += len(chunk)
            batch.bytes_read += len(chunk)
            self._open.offset += len(chunk)
            self._split(chunk.decode("latin-1"), batch)
            if _late(deadline):
                break
        if len(self._open.head) < HEAD_BYTES and got:
            self._open.head = _pread(self._open.file, HEAD_BYTES, 0)
        return got

    def _split(self, text: str, batch: Batch) -> None:
        if self._discarding:
            cut = text.find("\n")
            if cut < 0:
                return
            text, self._discarding = text[cut + 1 :], False
        parts = (self._pending + text).split("\n") if self._pending else text.split("\n")
        self._pending = parts.pop()
        limit = self.max_line
        for line in parts:
            if len(line) > limit:
                batch.overlong += 1
            else:
                batch.lines.append(line)
        if len(self._pending) > limit:
            batch.overlong += 1
            self._pending, self._discarding = "", True

    # -- rotation ---------------------------------------------------------------------

    def _check_truncated(self, batch: Batch) -> None:
        """copytruncate: shorter than what was read, or other first bytes."""
        assert self._open is not None
        size = os.fstat(self._open.file.fileno()).st_size
        head = _pread(self._open.file, len(self._open.head), 0) if self._open.head else b""
        if size < self._open.offset or head != self._open.head:
            self._open.offset = 0
            self._open.file.seek(0)
            self._open.head = _pread(self._open.file, HEAD_BYTES, 0)
            self._pending, self._discarding = "", False
            batch.rotations += 1

    def _switch_if_rotated(self, batch: Batch, grew: bool) -> bool:
        """True when a new file was taken up at the path (read it in the same call)."""
        assert self._open is not None
        try:
            st = self.path.stat()
        except OSError:
            return False  # gone: keep the old one open, wait for the path to return
        if (st.st_dev, st.st_ino) == (self._open.device, self._open.inode):
            return False
        if grew and st.st_size == 0:
            return False  # renamed, nginx not yet reopened: it still writes the old file
        opened = _open_file(self.path)
        if opened is None:
            return False
        if self._pending:
            batch.overlong += 1  # a last line the old file never finished
        self._start(opened, 0)
        batch.rotations += 1
        return True

    # -- state ------------------------------------------------------------------------

    def _resume_offset(self) -> int:
        assert self._open is not None
        if self._discarding:
            return self._open.offset
        return self._open.offset - len(self._pending)

    def _save(self) -> str | None:
        if self._open is None:
            return None
        state = {
            "path": str(self.path),
            "device": self._open.device,
            "inode": self._open.inode,
            "offset": self._resume_offset(),
            "discarding": self._discarding,
            "head": self._open.head.decode("latin-1"),
        }
        if state == self._state:
            return self._state_note
        note = statefile.save(self.state_path, state)
        if note is None:
            self._state = state
        self._state_note = note
        return note


def _late(deadline: Deadline | None) -> bool:
    """Time to stop reading and save: a tenth of the run's time left (at most 0.5 s)."""
    return deadline is not None and deadline.remaining() <= min(0.5, deadline.seconds / 10)


def _open_file(path: Path) -> _Open | None:
    try:
        file = path.open("rb", buffering=0)
    except OSError:
        return None
    st = os.fstat(file.fileno())
    return _Open(file, st.st_dev, st.st_ino, 0, b"")


def _pread(file: IO[bytes], size: int, offset: int) -> bytes:
    return os.pread(file.fileno(), size, offset) if size else b""


def _position(state: dict[str, Any]) -> tuple[int, int, int] | None:
    values = [state.get(k) for k in ("device", "inode", "offset")]
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return values[0], values[1], values[2]  # type: ignore[return-value]
    return None
