"""Follow a log file the way `tail -F` does, and remember where it stopped.

Invariants:
- A line is handed out once, and counted once: the position (device, inode,
  offset and the file's first bytes) is saved to state_dir at the end of each
  read, and `Batch.countable` says whether the lines may be counted. When the
  position cannot be saved, the old saved one is removed (a restart then begins
  at the end of the log, as a first start does): the lines are countable. When
  it can be neither saved nor removed, they are not, and the follower goes back
  to the saved position, as a restart would: they are read again next time.
- The first start (no state) begins at the end of the file: history is not
  traffic the exporter saw. A start in the middle of a line skips that line.
- Rename-and-reopen (logrotate, then nginx USR1), or delete-and-recreate: the
  old file's descriptor is kept and read to its end, then the rotated files
  written after it (`access.log.1`, `access.log-20261206`; not compressed ones),
  oldest first, then the file at the path from its start. The old file is read
  once more after the new one is seen with lines: what the writer appended to
  it before reopening is read too. While the new file is still empty, the old
  one is followed (nginx has not reopened yet).
- copytruncate: the file shrinks below the offset, or its first bytes change
  (truncated and refilled past the offset between two reads): the rest is read
  from logrotate's copy (a rotated sibling with the same first bytes reaching
  the offset), then the truncated file from its start.
- A file that disappears (or is missing at the start) is waited for; the
  one that comes back is read from its start. A deleted file that nobody has
  written for DELETED_QUIET_SECONDS is closed, so its disk space is freed.
- Only a regular file is read (files/regular_file.py: opened without blocking, a
  FIFO, device or directory at the path is a note, never a hung read).
- After a restart the saved inode is looked for among the rotated siblings
  (`access.log.1`), so lines written between the stop and a rotation are read.
- A partial last line waits for its newline (and is read again after a
  restart). A line longer than max_line is skipped whole and counted.
- With `consume`, lines are handed over chunk by chunk as they are read, so
  the deadline bounds reading and the caller's parsing together.

The file is read as latin-1, one character per byte, so string lengths are
byte offsets; nginx escapes everything outside printable ASCII anyway.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from registry_monitor.base import Deadline
from registry_monitor.files import regular_file, statefile

HEAD_BYTES = 64  # enough to tell two log files apart: the first line's time stamp
# one chunk's lines are parsed before the deadline is looked at again: 16 lines of the
# longest kind (16 KiB, some 2 ms each to classify) stay far inside its margin
CHUNK_BYTES = 256 * 1024
MAX_LINE = 16 * 1024
DELETED_QUIET_SECONDS = 60.0  # a deleted file unwritten this long is closed
LISTING_TRIES = 10  # listings of the rotated files taken while logrotate renames them
# a rotated sibling's suffix: `.1`, `-20261206`, `.2026-12-06` (not `.gz`, `.bak`)
_ROTATED_SUFFIX = re.compile(r"[._-][0-9][0-9._-]*")


@dataclass(slots=True)
class Batch:
    lines: list[str] = field(default_factory=list)  # complete lines, without the newline
    overlong: int = 0  # lines skipped for being longer than max_line
    bytes_read: int = 0
    rotations: int = 0  # switches to a new file (renamed, truncated or recreated)
    note: str | None = None  # why nothing could be read, or a state-file problem
    # the lines may be counted: their position is saved, or no saved position is left
    # that a restart would read them again from
    countable: bool = True


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
        max_bytes_per_read: int = 64 << 20,
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
        self._consume: Callable[[list[str]], None] | None = None

    # -- the one public operation -------------------------------------------------

    def read(
        self,
        deadline: Deadline | None = None,
        consume: Callable[[list[str]], None] | None = None,
    ) -> Batch:
        """The lines written since the last read. With consume, each chunk's lines go to
        it as they are read (Batch.lines stays empty); count them only if the returned
        batch is countable."""
        batch = Batch()
        self._consume = consume
        try:
            if self._state is None and self._open is None:
                self._state, self._state_note = statefile.load(self.state_path)
            if self._open is None and not self._first_open(batch):
                return batch
            assert self._open is not None
            while True:
                self._check_truncated(batch)
                got = self._drain(batch, deadline)
                if self._spent(batch, deadline):
                    break  # more next time; the position is saved below
                if not self._switch_if_rotated(batch, deadline, grew=got > 0):
                    break
            self._keep_position(batch)
        finally:
            self._consume = None
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
        opened, why = _open_file(self.path)
        if opened is None:
            batch.note = why
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
            opened, why = _open_file(self.path)
            if opened is None:
                batch.note = why
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

    def _siblings(self) -> tuple[list[tuple[tuple[int, int, str], Path, os.stat_result]], bool]:
        """The file at the path and its rotated siblings, regular files, with their order
        key (last written first; on a tie `.2` before `.1` before the path itself), and
        whether the listing held still (no name gone before its stat: logrotate may be
        shifting `.1` to `.2` right now)."""
        try:
            names = [
                p
                for p in self.path.parent.iterdir()
                if p.name == self.path.name
                or (
                    p.name.startswith(self.path.name)
                    and _ROTATED_SUFFIX.fullmatch(p.name[len(self.path.name) :])
                )
            ]
        except OSError:
            return [], True
        found, settled = [], True
        for sibling in names:
            try:
                st = sibling.stat()
            except FileNotFoundError:
                settled = False
                continue
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((_order(self.path.name, sibling.name, st), sibling, st))
        return found, settled

    def _rotated_sibling(self, device: int, inode: int) -> _Open | None:
        for _, sibling, st in self._siblings()[0]:
            if (st.st_dev, st.st_ino) == (device, inode):
                return _open_file(sibling)[0]
        return None

    def _start(self, opened: _Open, offset: int) -> None:
        self.close()
        self._open = opened
        opened.offset = offset
        opened.file.seek(offset)
        opened.head = _pread(opened.file, HEAD_BYTES, 0)
        self._pending, self._discarding = "", False

    # -- reading ----------------------------------------------------------------------

    def _spent(self, batch: Batch, deadline: Deadline | None) -> bool:
        return batch.bytes_read >= self.max_bytes or _late(deadline)

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
            if self._consume is not None and batch.lines:
                self._consume(batch.lines)  # parsed inside the deadline, chunk by chunk
                batch.lines = []
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
        """copytruncate: shorter than what was read, or other first bytes. The rest of
        what was there is in logrotate's copy, if one beside it has the same first bytes
        and reaches the offset: read on in the copy, then the truncated file from its
        start; without a copy, the truncated file from its start."""
        assert self._open is not None
        size = os.fstat(self._open.file.fileno()).st_size
        head = _pread(self._open.file, len(self._open.head), 0) if self._open.head else b""
        if size >= self._open.offset and head == self._open.head:
            return
        copy = self._copy_of(self._open)
        if copy is not None:
            self.close()
            self._open = copy  # the same bytes: the partial line and offset carry on
            copy.file.seek(copy.offset)
            return
        self._open.offset = 0
        self._open.file.seek(0)
        self._open.head = _pread(self._open.file, HEAD_BYTES, 0)
        self._pending, self._discarding = "", False
        batch.rotations += 1

    def _copy_of(self, truncated: _Open) -> _Open | None:
        if len(truncated.head) < HEAD_BYTES:
            return None  # too little to tell a copy from another file
        for _, path, st in self._siblings()[0]:
            if path.name == self.path.name or st.st_size < truncated.offset:
                continue
            if (st.st_dev, st.st_ino) == (truncated.device, truncated.inode):
                continue
            opened, _why = _open_file(path)
            if opened is None:
                continue
            if _pread(opened.file, HEAD_BYTES, 0) == truncated.head:
                opened.offset, opened.head = truncated.offset, truncated.head
                return opened
            opened.file.close()
        return None

    def _switch_if_rotated(self, batch: Batch, deadline: Deadline | None, grew: bool) -> bool:
        """True when the next file was taken up (read it in the same call): the oldest
        rotated file written after the open one, else the one at the path once it has
        lines (until then nginx may still write the old one)."""
        assert self._open is not None
        mine = os.fstat(self._open.file.fileno())
        try:
            st: os.stat_result | None = self.path.stat()
        except OSError:
            st = None  # gone: rotated files after the old one, or wait for the path
        if st is not None and (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            return False
        if st is not None and not stat.S_ISREG(st.st_mode):
            # a FIFO or directory put in its place: never opened
            batch.note = (
                f"access log {self.path} {regular_file.refusal(self.path, st.st_mode).strerror}"
            )
            st = None
        deleted_quiet = (
            mine.st_nlink == 0 and not grew and time.time() - mine.st_mtime >= DELETED_QUIET_SECONDS
        )
        path_ready = st is not None and (st.st_size > 0 or deleted_quiet)
        nxt = self._next_file(mine, batch, path_ready)
        if nxt is None:
            if deleted_quiet and st is None:
                self._give_up_deleted(batch)
            return False
        # the writer has moved on: what it appended to the old file before that, first
        self._drain(batch, deadline)
        if self._spent(batch, deadline):
            nxt.file.close()
            return False
        if self._pending:
            batch.overlong += 1  # a last line the old file never finished
        self._start(nxt, 0)
        batch.rotations += 1
        return True

    def _next_file(self, mine: os.stat_result, batch: Batch, path_ready: bool) -> _Open | None:
        """The oldest rotated file written after the open one, else the file at the path
        if it is ready to be taken up."""
        identity = (mine.st_dev, mine.st_ino)
        for _ in range(LISTING_TRIES):
            siblings, settled = self._siblings()
            own = [key for key, _, st in siblings if (st.st_dev, st.st_ino) == identity]
            # a deleted file has no name: order it by its last write alone
            after = own[0] if own else (mine.st_mtime_ns, -(1 << 62), "")
            # the file at the path comes last whatever its time (a second writer may
            # touch the old one after it)
            rotated = sorted(
                (key, path, (st.st_dev, st.st_ino))
                for key, path, st in siblings
                if key > after
                and path.name != self.path.name
                and (st.st_dev, st.st_ino) != identity
            )
            if rotated:
                _, path, listed = rotated[0]
                opened, _why = _open_file(path)
                if opened is not None and (opened.device, opened.inode) == listed:
                    return opened
                if opened is not None:
                    opened.file.close()
                continue  # renamed or gone since the listing: list again
            if settled:
                break
        if not path_ready:
            return None
        opened, why = _open_file(self.path)
        if opened is not None and (opened.device, opened.inode) != identity:
            return opened
        if opened is not None:
            opened.file.close()
        batch.note = why or None  # gone or replaced since its stat: the old file meanwhile
        return None

    def _give_up_deleted(self, batch: Batch) -> None:
        """A deleted file nobody writes any more: close it and free its disk space."""
        minutes = DELETED_QUIET_SECONDS / 60
        batch.note = (
            f"access log {self.path} was deleted and not written for {minutes:g} minute(s): "
            "closed it, waiting for a new one"
        )
        if self._pending:
            batch.overlong += 1
        self.close()
        self._pending, self._discarding = "", False
        self._was_missing = True

    # -- state ------------------------------------------------------------------------

    def _resume_offset(self) -> int:
        assert self._open is not None
        if self._discarding:
            return self._open.offset
        return self._open.offset - len(self._pending)

    def _keep_position(self, batch: Batch) -> None:
        """Save the position; if that fails, make sure no saved one makes a restart read
        these lines again, or else take them back."""
        note = self._save()
        if note is None:
            return
        removed = statefile.remove(self.state_path)
        if removed is None:
            self._state = {}  # nothing saved: try again next time
            batch.note = (
                f"{note}; removed it, so a restart begins at the end of the log "
                "(lines written while stopped are not counted, none twice)"
            )
            return
        batch.note = f"{note}; {removed}: lines not counted until the position can be saved"
        batch.countable = False
        # as after a restart: from the saved position again, next time
        self.close()
        self._state, self._state_note = None, None
        self._pending, self._discarding, self._was_missing = "", False, False

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


def _order(log_name: str, name: str, st: os.stat_result) -> tuple[int, int, str]:
    """A file's place among the log's rotations: by its last write; on a tie logrotate's
    `.2` before `.1` before the log itself, other suffixes (dates) by name."""
    suffix = name[len(log_name) :]
    if not suffix:
        rank = 1
    elif suffix[1:].isdigit():
        rank = -int(suffix[1:])
    else:
        rank = 0
    return st.st_mtime_ns, rank, name


def _open_file(path: Path) -> tuple[_Open | None, str]:
    """The regular file at path, opened; or None and why not."""
    try:
        file = regular_file.open_binary(path)
    except FileNotFoundError:
        return None, f"access log {path} does not exist (yet)"
    except regular_file.NotRegularFile as exc:
        return None, f"access log {path} {exc.strerror}"
    except OSError as exc:
        return None, f"cannot open access log {path}: {exc.strerror or exc}"
    st = os.fstat(file.fileno())
    return _Open(file, st.st_dev, st.st_ino, 0, b""), ""


def _pread(file: IO[bytes], size: int, offset: int) -> bytes:
    return os.pread(file.fileno(), size, offset) if size else b""


def _position(state: dict[str, Any]) -> tuple[int, int, int] | None:
    values = [state.get(k) for k in ("device", "inode", "offset")]
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        return values[0], values[1], values[2]  # type: ignore[return-value]
    return None
