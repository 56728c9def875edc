"""A file of this user's own that check_registry keeps results in between runs.

Read only when nobody else could have written it: a regular file (not a
symlink) owned by this user, writable by nobody else, within a size bound.
Written whole and atomically (a temporary file beside it, then a rename), the
directory made 0700 and the file 0600. Anything wrong (absent, foreign,
too big, unwritable) is as if there were none: the caller computes again.
Used by the validated config's cache (checks/config_cache.py) and the
certificates' facts (tls/certfacts.py).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from registry_monitor.files import regular_file


def read(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, if it can be trusted and is at most max_bytes; else None."""
    try:
        fd, st = regular_file.open_fd(path, follow=False)  # a FIFO or device: refused at once
    except OSError:
        return None
    try:
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        if st.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(max_bytes + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= max_bytes else None


def write(path: Path, data: bytes) -> None:
    """Replace the file with data, atomically; on failure leave no file behind (the next
    run computes again)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_NONBLOCK: a FIFO planted at the temporary name fails (ENXIO), never blocks
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(tmp, flags | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
