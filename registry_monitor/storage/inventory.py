"""A node's stored content: repository -> tag -> digest and push time, plus its blobs.

The model a scan builds and the standby compares. Its wire form for
`/api/inventory` (encoding, gzip, decoding) is in
registry_monitor/storage/inventory_wire.py, loaded only where an inventory
is served or read from the wire: the check command never loads it.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from registry_monitor.storage.layout import DIGEST_SIZE

_EMPTY_KEYS = array("Q")


class RepoTags:
    """A repository's tags, sorted by name, stored compactly (a large registry has 100k).

    A plain class: a dataclass costs a one-shot check ~0.5 ms to define."""

    __slots__ = ("digests", "mtimes", "names")

    def __init__(self, names: str, digests: bytes, mtimes: array[float]) -> None:
        self.names: Final = names  # "\n"-joined; tag names cannot contain a newline
        self.digests: Final = digests  # 32 bytes per tag
        self.mtimes: Final = mtimes  # the tag link's mtime (push time), unix seconds

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RepoTags):
            return NotImplemented
        return (self.names, self.digests, self.mtimes) == (other.names, other.digests, other.mtimes)

    __hash__ = None  # type: ignore[assignment]  # equal by content, and mtimes is mutable

    def __repr__(self) -> str:
        return f"RepoTags({self.names!r}, {self.digests!r}, {self.mtimes!r})"

    def tag_names(self) -> list[str]:
        return self.names.split("\n") if self.names else []

    def __len__(self) -> int:
        return len(self.digests) // DIGEST_SIZE

    def digest(self, index: int) -> bytes:
        return self.digests[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE]


NO_TAGS = RepoTags("", b"", array("d"))


class DigestSet:
    """Blob digests as sorted 64-bit keys in 256 buckets by first byte (8 bytes a blob;
    a key collision, ~n²/2^65, could only hide a missing blob from a count)."""

    __slots__ = ("_len", "keys")

    def __init__(self, keys: tuple[array[int], ...]) -> None:
        assert len(keys) == 256
        self.keys = keys
        self._len = sum(len(k) for k in keys)

    @classmethod
    def empty(cls) -> DigestSet:
        return cls((_EMPTY_KEYS,) * 256)

    def __len__(self) -> int:
        return self._len


_GENERATIONS = itertools.count(1)


class Inventory:
    """A node's content: complete tags by repository and its blobs.

    This node's own (from a scan) carries what its wire form is written from
    (storage/inventory_wire.py, on first use only: the exporter, which serves it,
    asks for it after each scan; the check command never does). One decoded from
    the wire carries the ETag it came with.
    """

    # __weakref__: storage/inventory_wire.py keeps each one's wire form beside it, not in it
    __slots__ = (
        "__weakref__",
        "blob_digests",
        "blobs",
        "generated_at",
        "generation",
        "node",
        "received_etag",
        "repositories",
        "role",
    )

    def __init__(
        self,
        node: str,
        role: str,
        generated_at: float,  # unix time, on the clock of the node that scanned
        repositories: Mapping[str, RepoTags],  # sorted by name; tags complete there only
        blobs: DigestSet,
        blob_digests: Callable[[], Iterable[bytes]] | None = None,  # sorted, full: own only
        etag: str | None = None,  # a decoded inventory's, as it came
    ) -> None:
        self.node = node
        self.role = role
        self.generated_at = generated_at
        self.repositories = repositories
        self.blobs = blobs
        self.generation = next(_GENERATIONS)  # tells inventories apart without the wire form
        # what the wire form is written from: the one input inventory_wire.py needs here
        self.blob_digests: Final = blob_digests
        self.received_etag = etag


def build_inventory(
    node: str,
    role: str,
    generated_at: float,
    repositories: Mapping[str, RepoTags],
    blobs: DigestSet,
    blob_digests: Callable[[], Iterable[bytes]],
) -> Inventory:
    """This node's inventory; `blob_digests` gives the sorted full digests of `blobs`
    when the wire form is written."""
    ordered = dict(sorted(repositories.items()))
    return Inventory(node, role, generated_at, ordered, blobs, blob_digests)
