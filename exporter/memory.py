"""Keep the exporter's resident memory close to what it really holds.

A storage scan builds arrays of several megabytes and frees older ones.
glibc raises its mmap threshold each time such a block is freed, so the next
big arrays land on the brk heap, where the holes they leave are never given
back: on a 100k-tag registry that was 10 MB of resident memory for nothing.
A fixed threshold keeps big blocks in their own mappings (returned when freed,
resized with mremap), and two malloc arenas are plenty for a few probe
threads. Both are documented glibc tunables (mallopt(3)); elsewhere this is a
no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024


def tune_malloc() -> bool:
    """Call before threads start. True when glibc took the settings."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, 2))
    if not ok:
        log.debug("mallopt refused the settings; running with glibc's defaults")
    return ok
