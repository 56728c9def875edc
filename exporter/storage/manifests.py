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

from exporter.storage.layout import DIGEST_SIZE, ManifestRefs, digest_key


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
        """Remember a parsed manifest, or why it could not be parsed."""
        self._pending[digest_key(digest)] = refs

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

        A merge of two sorted sequences straight into new flat arrays: no
        per-entry objects, so the peak is the old arrays plus the new.
        """
        if not self._pending and keep is None:
            return
        pending = sorted(self._pending.items())
        old_keys, old_starts, old_refs = self._keys, self._starts, self._refs
        keys: array[int] = array("Q")
        starts: array[int] = array("Q", [0])
        flat: array[int] = array("Q")
        children: dict[int, bytes] = {}
        errors: dict[int, str] = {}
        i = j = 0
        while i < len(old_keys) or j < len(pending):
            if j == len(pending) or (i < len(old_keys) and old_keys[i] < pending[j][0]):
                key = old_keys[i]
                if keep is None or keep(key):
                    keys.append(key)
                    flat.extend(old_refs[old_starts[i] : old_starts[i + 1]])
                    starts.append(len(flat))
                    if key in self._errors:
                        errors[key] = self._errors[key]
                    if key in self._children:
                        children[key] = self._children[key]
                i += 1
                continue
            key, value = pending[j]
            j += 1
            if i < len(old_keys) and old_keys[i] == key:
                i += 1  # parsed again: the new entry replaces the old
            if keep is not None and not keep(key):
                continue
            keys.append(key)
            if isinstance(value, str):
                errors[key] = value
            else:
                flat.extend(map(digest_key, value.blobs))
                if value.children:
                    children[key] = b"".join(value.children)
            starts.append(len(flat))
        self._keys, self._starts, self._refs = keys, starts, flat
        self._children, self._errors, self._pending = children, errors, {}
