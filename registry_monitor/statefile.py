"""Small JSON state files in state_dir that must survive an exporter restart.

Written atomically (a temporary file in the same directory, fsync, rename),
so a crash mid-write leaves the old file, never half a new one. A missing
file is a fresh start; an unreadable one is reported, not fatal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 1024


def load(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the state, a note when it could not be used); {} for a missing file."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
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
