"""Small JSON state files in state_dir that must survive an exporter restart.

Written atomically (a temporary file `.<name>.<random>` in the same directory,
fsync, rename), so a crash mid-write leaves the old file, never half a new one.
A temporary file left by a writer killed mid-save is removed by a later save of
the same name once it is STALE_TEMP_SECONDS old: a live save holds its
temporary file for the milliseconds of one write and fsync, so a younger one
may be another process's save in progress (check_registry and the exporter
both keep the sync probe's state) and is left alone. A missing file is a fresh
start; an unreadable one (a FIFO or directory in its place included, refused
without blocking) is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from registry_monitor.files import regular_file

MAX_BYTES = 64 * 1024
STALE_TEMP_SECONDS = 60.0


def load(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the state, a note when it could not be used); {} for a missing file."""
    try:
        data = regular_file.read_bytes(path, MAX_BYTES)
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"state file {path} unreadable ({exc.strerror or exc}); starting afresh"
    try:
        if len(data) > MAX_BYTES:
            raise ValueError("too large")
        try:
            state = json.loads(data)
        except RecursionError:
            raise ValueError("nested too deeply") from None
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return {}, f"state file {path} is not usable ({exc}); starting afresh"
    return state, None


def save(path: Path, state: dict[str, Any], mode: int | None = None) -> str | None:
    """Write the state atomically; a note when that failed (the old file stays).
    `mode`: the file's permissions, when others must read it (mkstemp makes it 0600)."""
    import tempfile  # only to save a change: it loads random and shutil, which reads skip

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            Path(temp).replace(path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if path.parent.exists() and not path.parent.is_dir():  # mkdir says "File exists"
            return f"cannot save state file {path}: state_dir {path.parent} is not a directory"
        return f"cannot save state file {path}: {exc.strerror or exc}"
    return None


def remove(path: Path) -> str | None:
    """Remove the state file (a fresh start next time); a note when it is there still."""
    try:
        path.unlink(missing_ok=True)
    except NotADirectoryError:
        return None  # state_dir is a file: no state file there to remove
    except OSError as exc:
        return f"cannot remove state file {path}: {exc.strerror or exc}"
    return None


def remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of path's saves that a killed writer left behind."""
    prefix, cutoff = f".{path.name}.", time.time() - STALE_TEMP_SECONDS
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if not entry.name.startswith(prefix):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if info.st_mtime < cutoff:
                    Path(entry.path).unlink()
