"""Rolling sha256 verification of blob contents.

A run after the first verifies its share of the tree: at least `share` of
the blobs by count and of their bytes (share = the probe's interval over the
verification period, with a margin), so that every blob is verified within
the period while an unchanged rescan stays cheap; the budget scales with the
tree. The first run of a process (and so every one-shot check) verifies as
much as the byte cap allows instead. Every run hashes at most the byte cap
and spends at most 5% of the probe's time-out (many small blobs cost seeks,
not bytes), then stops and resumes there next run (inside a blob if need be:
the hash state is kept). So a multi-gigabyte layer never turns one run into a
disk-saturating read, and every blob is checked in turn. The pages of large
blobs are dropped from the page cache afterwards (POSIX_FADV_DONTNEED), so the
check does not evict what the registry serves.

The first MiB a process hashes goes through the interpreter's own sha256, the
rest through OpenSSL's (hashlib), loaded then: loading OpenSSL costs ~3 ms, a
tenth of a one-shot check's start, where a small registry's blobs hash in far
less; OpenSSL's is ~7x faster on bulk data (1.7 against 0.25 GB/s on a CPU with
SHA extensions), which the rolling check over a whole registry needs.
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
import functools
import importlib
import math
import os
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from registry_monitor.base import Deadline
from registry_monitor.files import regular_file
from registry_monitor.storage.layout import (
    DIGEST_SIZE,
    blob_data_path,
    blobs_root,
    digest_key,
    format_digest,
)
from registry_monitor.storage.scan import Scanner

CHUNK = 1024 * 1024
EXAMPLES = 10
RESERVE_SECONDS = 1.0  # leave the rest of the probe this much of its deadline
TIME_SHARE = 0.05  # of the probe's time-out: 12 s of the default 240
DROP_CACHE_FROM = 1024 * 1024  # smaller blobs (manifests, configs) stay cached
BUILTIN_HASH_BYTES = 1024 * 1024  # hashed by the interpreter's sha256 before OpenSSL's loads


class VerifyStatus(NamedTuple):
    enabled: bool
    budget_bytes: int
    bytes_this_run: int
    blobs_this_run: int
    verified_bytes_total: int
    verified_blobs_total: int
    failures_total: int
    passes_completed: int  # full rounds over every blob since the exporter started
    position: str | None  # the blob being verified or last verified
    recent_failures: tuple[str, ...]


@functools.cache
def _builtin_sha256() -> Callable[[], Any] | None:
    """The interpreter's own sha256 (a private module: `_sha2` from 3.12, `_sha256`
    before), or None if this build has none."""
    for name in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[], Any] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    return None


class Sha256:
    """New sha256 states: the interpreter's own for blobs while the first
    `builtin_bytes` last, OpenSSL's (hashlib) for every blob after that."""

    def __init__(self, builtin_bytes: int = BUILTIN_HASH_BYTES) -> None:
        self.builtin_left = builtin_bytes

    def new(self, size: int) -> Any:
        """A state to hash a blob of `size` bytes with."""
        builtin = _builtin_sha256() if size <= self.builtin_left else None
        if builtin is not None:
            self.builtin_left -= size
            return builtin()
        import hashlib  # loads OpenSSL

        self.builtin_left = -1  # OpenSSL's from now on, even for an empty blob: it is loaded
        return hashlib.sha256()


class BlobVerifier:
    def __init__(self, data_dir: Path, budget_bytes: int, share: float = 1.0) -> None:
        """budget_bytes: the cap per run (0: off); share: of the tree per run after the first."""
        self.blobs = str(blobs_root(data_dir))
        self.budget = budget_bytes
        self.share = share
        self.runs = 0
        self.cursor: bytes | None = None  # the last blob finished
        # (digest, offset, hash state: None until the blob's size is known)
        self.current: tuple[bytes, int, Any] | None = None
        self.hashes = Sha256()
        self.bytes_total = 0
        self.blobs_total = 0
        self.failures_total = 0
        self.passes = 0
        self.failures: deque[str] = deque(maxlen=EXAMPLES)
        self._bucket: tuple[int, object, bytes] = (-1, None, b"")  # b, its keys, its digests

    def _next(self, scanner: Scanner, after: bytes | None) -> bytes | None:
        """The first blob after `after` (None: the first blob), or None at the end."""
        key = digest_key(after) if after is not None else 0
        for b in range(key >> 56, 256):
            keys, read = scanner.bucket(b)
            if not keys or (after is not None and b == key >> 56 and keys[-1] < key):
                continue
            if self._bucket[0] != b or self._bucket[1] is not keys:
                self._bucket = (b, keys, read())  # one read per bucket, not per blob
            digests = self._bucket[2]
            i = bisect_left(keys, key) if after is not None and b == key >> 56 else 0
            for j in range(i * DIGEST_SIZE, len(digests), DIGEST_SIZE):
                candidate = digests[j : j + DIGEST_SIZE]
                if after is None or candidate > after:
                    return candidate
        return None

    def _targets(self, scanner: Scanner) -> tuple[int, int]:
        """(blobs, bytes) this run verifies at least, unless the cap or the time stops it."""
        if not self.runs or self.share >= 1:
            return 2**62, 2**62  # as far as the cap goes
        blobs, size = scanner.blob_totals()
        return math.ceil(self.share * blobs), math.ceil(self.share * size)

    def run(self, scanner: Scanner, deadline: Deadline) -> VerifyStatus:
        budget = self.budget
        done_bytes = done_blobs = looked = 0
        stop = time.monotonic() + TIME_SHARE * deadline.seconds
        want_blobs, want_bytes = self._targets(scanner) if budget else (0, 0)
        self.runs += 1

        def in_time() -> bool:
            return time.monotonic() < stop and deadline.remaining() > RESERVE_SECONDS

        while budget > 0 and in_time() and (looked < want_blobs or done_bytes < want_bytes):
            if self.current is None:
                digest = self._next(scanner, self.cursor)
                if digest is None:  # the end of a pass: the next run starts the next one
                    if self.cursor is not None:
                        self.cursor = None
                        self.passes += 1
                    break
                self.current = (digest, 0, None)
            digest, offset, state = self.current
            read, finished, state = self._hash(digest, offset, state, budget, in_time)
            budget -= read
            done_bytes += read
            if not finished:
                self.current = (digest, offset + read, state)
                continue
            self.current, self.cursor = None, digest
            looked += 1  # towards the share, whatever it held
            if finished == "ok":
                done_blobs += 1
            elif finished != "gone":
                self.failures_total += 1
                self.failures.append(f"{format_digest(digest)}: {finished}")
        done = self.current is None and self.cursor is not None
        if done and self._next(scanner, self.cursor) is None:  # the last blob: the pass ends
            self.cursor = None
            self.passes += 1
        self.bytes_total += done_bytes
        self.blobs_total += done_blobs
        position = self.current[0] if self.current else self.cursor
        return VerifyStatus(
            enabled=self.budget > 0,
            budget_bytes=self.budget,
            bytes_this_run=done_bytes,
            blobs_this_run=done_blobs,
            verified_bytes_total=self.bytes_total,
            verified_blobs_total=self.blobs_total,
            failures_total=self.failures_total,
            passes_completed=self.passes,
            position=format_digest(position) if position else None,
            recent_failures=tuple(self.failures),
        )

    def _hash(
        self, digest: bytes, offset: int, state: Any, budget: int, in_time: Callable[[], bool]
    ) -> tuple[int, str, Any]:
        """(bytes read, outcome, hash state): outcome "" = not finished, "ok", "gone", or
        what is wrong. A state of None is made here, once the blob's size is known."""
        try:
            fd, _ = regular_file.open_fd(blob_data_path(self.blobs, digest))
        except FileNotFoundError:
            return 0, "gone", state  # removed since the scan (GC, rsync --delete): not corruption
        except OSError as exc:
            return 0, f"unreadable: {exc.strerror or exc}", state
        read = 0
        try:
            if state is None:
                state = self.hashes.new(os.fstat(fd).st_size)
            os.posix_fadvise(fd, offset, 0, os.POSIX_FADV_SEQUENTIAL)
            os.lseek(fd, offset, os.SEEK_SET)
            while read < budget and in_time():
                data = os.read(fd, min(CHUNK, budget - read))
                if not data:
                    actual = state.hexdigest()
                    if actual == digest.hex():
                        return read, "ok", state
                    return read, f"content hashes to sha256:{actual}", state
                state.update(data)
                read += len(data)
            return read, "", state
        except OSError as exc:
            return read, f"read error: {exc.strerror or exc}", state
        finally:
            if offset + read >= DROP_CACHE_FROM:
                os.posix_fadvise(fd, offset, read, os.POSIX_FADV_DONTNEED)
            os.close(fd)
