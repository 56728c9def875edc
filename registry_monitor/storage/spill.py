"""Byte strings kept in an anonymous temporary file instead of the exporter's memory.

Full blob digests (32 bytes each, 10 MB for 300k blobs) are needed only now
and then: for the inventory's wire form, the rolling sha256 check, sizing
reclaimable blobs. Lookups use 64-bit keys held in memory; the full digests
wait on disk (usually in the page cache) and are read back with pread, which
is safe from several threads. The file has no name and goes with the process.
"""

from __future__ import annotations

import os
import threading


def anonymous_file() -> int:
    """A descriptor of a file without a name in $TMPDIR (or /tmp), gone with the process.

    O_TMPFILE directly, as tempfile.TemporaryFile would try first: importing
    tempfile (random, shutil, bz2, lzma...) would cost check_registry storage a
    few milliseconds of start-up on every run.
    """
    directory = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a file without a name
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError:  # a filesystem without O_TMPFILE, or no such directory
        import tempfile

        fd, path = tempfile.mkstemp(prefix="registry-monitor-")
        os.unlink(path)  # noqa: PTH108 - a str from mkstemp
        return fd


class Spill:
    def __init__(self) -> None:
        self._fd = anonymous_file()
        self._lock = threading.Lock()
        self.size = 0  # bytes in the file
        self.live = 0  # bytes still referenced

    def put(self, data: bytes) -> tuple[int, int]:
        """Append; (offset, length) to read it back."""
        with self._lock:
            offset = self.size
            os.pwrite(self._fd, data, offset)
            self.size += len(data)
            self.live += len(data)
        return offset, len(data)

    def get(self, ref: tuple[int, int]) -> bytes:
        offset, length = ref
        if not length:
            return b""
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise OSError(f"temporary file gave {len(data)} of {length} bytes")
        return data

    def release(self, ref: tuple[int, int]) -> None:
        with self._lock:
            self.live -= ref[1]

    def wasteful(self) -> bool:
        """True when most of the file is no longer referenced (time to copy the rest)."""
        return self.size > 2 * self.live + (8 << 20)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
