"""Parsed manifest references, cached by digest across scans.

A blob's content never changes under its digest, so a manifest is parsed once
and its references kept until the blob is gone. The cache is compact because
a large registry has 100k+ manifests: sorted 64-bit keys, and the blob
references of all manifests in one flat array of 64-bit keys (8 bytes per
reference instead of a Python bytes object's ~70). Child manifests of an
index keep their full digests, as they are opened by path.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate
from operator import sub

from registry_monitor.storage.layout import DIGEST_SIZE, ManifestRefs, digest_key

BATCH = 2048  # new entries held as objects before they are folded into the arrays


class ManifestCache:
    def __init__(self) -> None:
        self._keys: array[int] = array("Q")
        self._starts: array[int] = array("Q", [0])
        self._refs: array[int] = array("Q")
        self._children: dict[int, bytes] = {}
        self._errors: dict[int, str] = {}
        self._pending: dict[int, ManifestRefs | str] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._pending)

    def index(self, key: int) -> int:
        """Position of a committed entry, or -1."""
        i = bisect_left(self._keys, key)
        return i if i < len(self._keys) and self._keys[i] == key else -1

    def __contains__(self, key: int) -> bool:
        return key in self._pending or self.index(key) >= 0

    def add(self, digest: bytes, refs: ManifestRefs | str) -> None:
        """Remember a parsed manifest, or why it could not be parsed.

        Folded into the arrays every BATCH entries: a first scan of 100k
        manifests must not hold 100k ManifestRefs objects (~45 MB) at once.
        A manifest added again (after its blob went and came back) replaces
        the old entry.
        """
        self._pending[digest_key(digest)] = refs
        if len(self._pending) >= BATCH:
            self.commit()

    def children(self, i: int) -> tuple[bytes, ...]:
        """Child manifest digests of committed entry i (only indexes have any)."""
        packed = self._children.get(self._keys[i], b"")
        return tuple(packed[j : j + DIGEST_SIZE] for j in range(0, len(packed), DIGEST_SIZE))

    def entry(self, i: int) -> tuple[array[int], tuple[bytes, ...]] | str:
        """(blob reference keys, child manifest digests) of committed entry i, or its error."""
        key = self._keys[i]
        error = self._errors.get(key)
        if error is not None:
            return error
        packed = self._children.get(key, b"")
        children = tuple(packed[j : j + DIGEST_SIZE] for j in range(0, len(packed), DIGEST_SIZE))
        return self._refs[self._starts[i] : self._starts[i + 1]], children

    def commit(self, keep: Callable[[int], bool] | None = None) -> None:
        """Fold new entries in; with `keep`, drop entries whose blob is gone.

        Builds new flat arrays (the peak is the old arrays plus the new). Without
        `keep`, runs of old entries between two new ones are copied as slices, so
        a commit costs C-speed copying plus Python work per new entry only.
        """
        if not self._pending and keep is None:
            return
        pending = sorted(self._pending.items())
        old_keys, old_starts, old_refs = self._keys, self._starts, self._refs
        keys: array[int] = array("Q")
        counts: array[int] = array("Q")
        flat: array[int] = array("Q")
        children, errors = self._children, self._errors

        def take_old(lo: int, hi: int) -> None:
            if hi > lo:
                keys.extend(old_keys[lo:hi])
                counts.extend(map(sub, old_starts[lo + 1 : hi + 1], old_starts[lo:hi]))
                flat.extend(old_refs[old_starts[lo] : old_starts[hi]])

        if keep is not None:
            children = {k: v for k, v in children.items() if keep(k)}
            errors = {k: v for k, v in errors.items() if keep(k)}
        done = 0
        for key, value in pending:
            at = bisect_left(old_keys, key, done)
            if keep is None:
                take_old(done, at)
            else:
                for i in range(done, at):
                    if keep(old_keys[i]):
                        take_old(i, i + 1)
            done = at + (at < len(old_keys) and old_keys[at] == key)  # a new one replaces
            if keep is not None and not keep(key):
                continue
            keys.append(key)
            if isinstance(value, str):
                errors[key] = value
                counts.append(0)
            else:
                flat.extend(map(digest_key, value.blobs))
                counts.append(len(value.blobs))
                if value.children:
                    children[key] = b"".join(value.children)
        if keep is None:
            take_old(done, len(old_keys))
        else:
            for i in range(done, len(old_keys)):
                if keep(old_keys[i]):
                    take_old(i, i + 1)
        self._keys, self._refs = keys, flat
        self._starts = array("Q", accumulate(counts, initial=0))
        self._children, self._errors, self._pending = children, errors, {}
