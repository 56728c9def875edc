"""The compact wire form of an inventory (registry_monitor/storage/inventory.py) for
`/api/inventory`: written by the exporter, which serves it, and read by the standby.

Wire form, format 1: JSON lines (UTF-8, one object per line, gzip on the wire
when accepted), sorted so that equal content gives equal bytes and so an equal
ETag:

    {"format":1,"node":..,"role":..,"generated_at":..,"repositories":R,"tags":T,"blobs":B}
    {"repository":"a/b","tags":["t1","t2"],"digests":"<64 hex per tag>","mtimes":[..]}   R lines
    {"blobs":"<64 hex per blob, up to 2048 blobs>"}                                       ...

Only tags whose manifest and every blob it needs are present are listed: a
broken tag on one node is not content the other could be missing. Lines are
streamed both ways, so neither side ever holds the text of a whole inventory:
the exporter writes it gzip-compressed into a temporary file once per change
(the check command, which never serves it, never writes it), the decoder turns
each line into the compact form (joined tag names, raw digests, 64-bit blob
keys) as it arrives, under a cap on the decompressed size,
and hands it to a visitor (the standby's comparison keeps none of it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import threading
import weakref
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from registry_monitor.clients import bounded_json
from registry_monitor.storage.inventory import DigestSet, Inventory, RepoTags
from registry_monitor.storage.layout import DIGEST_SIZE, valid_repository, valid_tag
from registry_monitor.storage.spill import anonymous_file

FORMAT = 1
MEDIA_TYPE = "application/vnd.registry-monitor.inventory.v1+jsonl"
BLOBS_PER_LINE = 2048
STEP = 1024 * 1024  # decompressed bytes per inflate step
# One line is decoded whole: a repository of ~65k tags is 16 MiB, and any line is held to
# what its values can cost decoded (bounded_json), whatever the inventory's own cap.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_LINE_VALUES = 500_000  # two a tag (name, mtime)
HEADER_KEYS = frozenset({"format", "node", "role", "generated_at", "repositories", "tags", "blobs"})
REPO_KEYS = frozenset({"repository", "tags", "digests", "mtimes"})

_LOWER_HEX = re.compile(r"[0-9a-f]*")
_KEY_AND_REST = struct.Struct(">Q24s")  # a digest as (64-bit key, remaining 24 bytes)


class InventoryError(ValueError):
    """An inventory that cannot be trusted: not ours, truncated, garbled or too large."""


class Body:
    """The gzip-compressed wire form, in an anonymous temporary file: served as it is,
    never held in memory (15 MB for 300k blobs)."""

    CHUNK = 256 * 1024

    def __init__(self) -> None:
        self._fd = anonymous_file()
        self.size = 0

    def append(self, data: bytes) -> None:
        if data:
            os.pwrite(self._fd, data, self.size)
            self.size += len(data)

    def chunks(self) -> Iterator[bytes]:
        offset = 0
        while offset < self.size:
            data = os.pread(self._fd, min(self.CHUNK, self.size - offset), offset)
            if not data:
                raise OSError("inventory body shorter than written")
            offset += len(data)
            yield data

    def __del__(self) -> None:
        os.close(self._fd)


class WireForm:
    """An inventory's wire form, gzip-compressed in an anonymous temporary file, and its
    ETag: the sha256 of the uncompressed form."""

    __slots__ = ("body", "etag")

    def __init__(self, body: Body, etag: str) -> None:
        self.body = body
        self.etag = etag


def _dump(obj: object) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=True) + "\n").encode()


def encode_lines(
    node: str,
    role: str,
    generated_at: float,
    repositories: Mapping[str, RepoTags],
    blob_count: int,
    blob_digests: Iterable[bytes],
) -> Iterator[bytes]:
    """The wire form; `blob_digests` yields the sorted raw digests in chunks of any size."""
    yield _dump(
        {
            "format": FORMAT,
            "node": node,
            "role": role,
            "generated_at": round(generated_at, 3),
            "repositories": len(repositories),
            "tags": sum(len(t) for t in repositories.values()),
            "blobs": blob_count,
        }
    )
    for name, tags in repositories.items():
        yield _dump(
            {
                "repository": name,
                "tags": tags.tag_names(),
                "digests": tags.digests.hex(),
                "mtimes": [round(m, 3) for m in tags.mtimes],
            }
        )
    step = BLOBS_PER_LINE * DIGEST_SIZE
    pending = b""
    for chunk in blob_digests:
        pending += chunk
        while len(pending) >= step:
            yield _dump({"blobs": pending[:step].hex()})
            pending = pending[step:]
    if pending:
        yield _dump({"blobs": pending.hex()})


class _Written:
    """An inventory's wire form once written, and the lock that has it written once."""

    __slots__ = ("form", "lock")

    def __init__(self) -> None:
        self.form: WireForm | None = None
        self.lock = threading.Lock()


# Each inventory's wire form, kept as long as the inventory lives (its body's file closes
# with it). _WRITTEN_LOCK only guards the mapping: a form being written holds its own
# inventory's lock, so another inventory's ETag is never kept waiting for it.
_WRITTEN: weakref.WeakKeyDictionary[Inventory, _Written] = weakref.WeakKeyDictionary()
_WRITTEN_LOCK = threading.Lock()


def wire_form(inventory: Inventory) -> WireForm:
    """This node's own inventory's wire form, written once (thread-safe) and kept with it."""
    blob_digests = inventory.blob_digests
    if blob_digests is None:
        raise ValueError("only this node's own inventory has a wire form")
    with _WRITTEN_LOCK:
        written = _WRITTEN.get(inventory)
        if written is None:
            written = _WRITTEN[inventory] = _Written()
    with written.lock:
        if written.form is None:
            written.form = write_wire(inventory, blob_digests())
        return written.form


def etag(inventory: Inventory) -> str:
    """The ETag a decoded inventory came with, or that of this node's own wire form."""
    received = inventory.received_etag
    return received if received is not None else wire_form(inventory).etag


def gzip_chunks(inventory: Inventory) -> Iterator[bytes]:
    return wire_form(inventory).body.chunks()


def lines(inventory: Inventory) -> Iterator[bytes]:
    """The wire form uncompressed (for clients that do not take gzip)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in gzip_chunks(inventory):
        yield inflater.decompress(chunk)
    yield inflater.flush()


def write_wire(inventory: Inventory, blob_digests: Iterable[bytes]) -> WireForm:
    """The wire form written once, gzip level 1 (hex is entropy-bound anyway), and its
    ETag: the sha256 of the uncompressed wire form."""
    digest = hashlib.sha256()
    body = Body()
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    batch: list[bytes] = []
    size = 0
    i = inventory
    lines = encode_lines(i.node, i.role, i.generated_at, i.repositories, len(i.blobs), blob_digests)
    for line in lines:
        digest.update(line)
        batch.append(line)
        size += len(line)
        if size >= Body.CHUNK:
            body.append(compressor.compress(b"".join(batch)))
            batch, size = [], 0
    body.append(compressor.compress(b"".join(batch)) + compressor.flush())
    return WireForm(body, digest.hexdigest())


# ---------------------------------------------------------------- decoding


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InventoryError(f"{what} is not a non-negative integer: {value!r:.40}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InventoryError(f"{what} is not a number: {value!r:.40}")
    if value < 0:
        raise InventoryError(f"{what} is negative: {value!r:.40}")
    return float(value)


def _hex(value: object, what: str) -> bytes:
    if (
        not isinstance(value, str)
        or len(value) % (2 * DIGEST_SIZE)
        or _LOWER_HEX.fullmatch(value) is None
    ):
        raise InventoryError(f"{what} is not a string of 64-digit lowercase hex digests")
    return bytes.fromhex(value)


class Visitor(Protocol):
    """Takes an inventory's content as it is decoded, so that a reader need not hold it."""

    def repository(self, name: str, tags: RepoTags) -> None:
        """One repository's complete tags, in name order."""

    def blob_keys(self, keys: array[int]) -> None:
        """One line's blob digests as 64-bit keys, ascending across lines."""


@dataclass(frozen=True)
class Header:
    """What an inventory says of itself, and its ETag (sha256 of the wire form)."""

    node: str
    role: str
    generated_at: float  # on the clock of the node that scanned
    etag: str


class _Collector:
    """Keeps everything: the decoded Inventory's content."""

    def __init__(self) -> None:
        self.repositories: dict[str, RepoTags] = {}
        self.buckets: list[array[int]] = [array("Q") for _ in range(256)]

    def repository(self, name: str, tags: RepoTags) -> None:
        self.repositories[name] = tags

    def blob_keys(self, keys: array[int]) -> None:
        buckets = self.buckets
        for key in keys:
            buckets[key >> 56].append(key)


class _Decoder:
    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor
        self.header: dict[str, object] | None = None
        self.repository_count = 0
        self.last_repository = ""
        self.tags = 0
        self.blob_count = 0
        self.last_blob: tuple[int, bytes] = (-1, b"")
        self.line_no = 0

    def line(self, raw: bytes | bytearray) -> None:
        self.line_no += 1
        try:
            obj = bounded_json.loads(raw, max_bytes=MAX_LINE_BYTES, max_values=MAX_LINE_VALUES)
        except bounded_json.JsonRefused as exc:
            if str(exc) == "not JSON":
                raise InventoryError(f"line {self.line_no} is not JSON") from None
            raise InventoryError(f"line {self.line_no} refused: {exc}") from None
        if not isinstance(obj, dict):
            raise InventoryError(f"line {self.line_no} is not a JSON object")
        if self.header is None:
            self._header(obj)
        elif set(obj) == REPO_KEYS:
            if self.blob_count:
                raise InventoryError(f"line {self.line_no}: repository after the blob list")
            self._repository(obj)
        elif set(obj) == {"blobs"}:
            self._blobs(obj)
        else:
            keys = ", ".join(sorted(obj))[:120]
            raise InventoryError(f"line {self.line_no} has unexpected keys: {keys}")

    def _header(self, obj: dict[str, object]) -> None:
        fmt = obj.get("format")
        if fmt != FORMAT or isinstance(fmt, bool):
            raise InventoryError(
                f"unsupported inventory format {fmt!r:.40} (this exporter reads {FORMAT})"
            )
        if set(obj) != HEADER_KEYS:
            got = ", ".join(sorted(obj))[:160]
            raise InventoryError(f"inventory header has keys {got}, expected the format 1 set")
        for key in ("node", "role"):
            if not isinstance(obj[key], str):
                raise InventoryError(f"header {key} is not a string")
        _number(obj["generated_at"], "header generated_at")
        for key in ("repositories", "tags", "blobs"):
            _int(obj[key], f"header {key}")
        self.header = obj

    def _repository(self, obj: dict[str, object]) -> None:
        name, tags, mtimes = obj["repository"], obj["tags"], obj["mtimes"]
        where = f"line {self.line_no}"
        if not isinstance(name, str) or not valid_repository(name):
            raise InventoryError(f"{where}: invalid repository name {name!r:.80}")
        if name <= self.last_repository:
            raise InventoryError(f"{where}: repository {name} out of order or repeated")
        if not isinstance(tags, list) or not isinstance(mtimes, list):
            raise InventoryError(f"{where}: tags and mtimes must be lists")
        previous = ""
        for tag in tags:
            if not isinstance(tag, str) or not valid_tag(tag):
                raise InventoryError(f"{where}: invalid tag name {tag!r:.80}")
            if tag <= previous:
                raise InventoryError(f"{where}: tag {tag} out of order or repeated")
            previous = tag
        digests = _hex(obj["digests"], f"{where} digests")
        if not len(digests) // DIGEST_SIZE == len(tags) == len(mtimes):
            raise InventoryError(f"{where}: tags, digests and mtimes differ in length")
        stamps = array("d", (_number(m, f"{where} mtime") for m in mtimes))
        self.visitor.repository(name, RepoTags("\n".join(tags), digests, stamps))
        self.repository_count += 1
        self.last_repository = name
        self.tags += len(tags)

    def _blobs(self, obj: dict[str, object]) -> None:
        raw = _hex(obj["blobs"], f"line {self.line_no} blobs")
        if not raw:
            raise InventoryError(f"line {self.line_no}: empty blob line")
        previous = self.last_blob
        keys = array("Q")
        for record in _KEY_AND_REST.iter_unpack(raw):
            if record <= previous:
                raise InventoryError(f"line {self.line_no}: blobs out of order or repeated")
            keys.append(record[0])
            previous = record
        self.last_blob = previous
        self.blob_count += len(raw) // DIGEST_SIZE
        self.visitor.blob_keys(keys)

    def finish(self, etag: str) -> Header:
        if self.header is None:
            raise InventoryError("empty inventory")
        h = self.header
        got = (self.repository_count, self.tags, self.blob_count)
        want = (h["repositories"], h["tags"], h["blobs"])
        if got != want:
            raise InventoryError(
                "inventory truncated or inconsistent: header announces "
                f"{want[0]} repositories, {want[1]} tags, {want[2]} blobs; body has "
                f"{got[0]}, {got[1]}, {got[2]}"
            )
        return Header(
            node=str(h["node"]),
            role=str(h["role"]),
            generated_at=float(h["generated_at"]),  # type: ignore[arg-type]
            etag=etag,
        )


def decode(chunks: Iterable[bytes], *, gzipped: bool, max_bytes: int) -> Inventory:
    """Parse a wire-form inventory, strictly, into memory; InventoryError on anything else.

    Blob digests are kept as 64-bit keys only, which is all a comparison needs.
    """
    collector = _Collector()
    h = decode_into(chunks, collector, gzipped=gzipped, max_bytes=max_bytes)
    return Inventory(
        node=h.node,
        role=h.role,
        generated_at=h.generated_at,
        repositories=collector.repositories,
        blobs=DigestSet(tuple(collector.buckets)),
        etag=h.etag,
    )


def decode_into(
    chunks: Iterable[bytes], visitor: Visitor, *, gzipped: bool, max_bytes: int
) -> Header:
    """Parse a wire-form inventory, strictly, handing its content to `visitor` line by
    line; InventoryError on anything else (the visitor may have seen part of it then).

    `max_bytes` caps the decompressed size (a gzip bomb stops there).
    """
    decoder = _Decoder(visitor)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    digest = hashlib.sha256()
    total = 0
    buffer = bytearray()

    def feed(data: bytes) -> None:
        nonlocal total
        total += len(data)
        if total > max_bytes:
            raise InventoryError(f"inventory larger than the {max_bytes} byte cap")
        digest.update(data)
        buffer.extend(data)
        if b"\n" in data:
            start = 0
            while (end := buffer.find(b"\n", start)) >= 0:
                decoder.line(buffer[start:end])
                start = end + 1
            del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:  # a line with no end in sight is not held whole
            raise InventoryError(
                f"line {decoder.line_no + 1} refused: longer than the {MAX_LINE_BYTES} byte cap"
            )

    try:
        for chunk in chunks:
            if inflater is None:
                feed(chunk)
                continue
            data = chunk
            while data:
                # a bounded step at a time, so a gzip bomb never inflates past the cap
                feed(inflater.decompress(data, min(STEP, max_bytes - total + 1)))
                if inflater.unused_data:
                    raise InventoryError("data after the end of the gzip stream")
                data = inflater.unconsumed_tail
        if inflater is not None:
            feed(inflater.flush())
            if not inflater.eof:
                raise InventoryError("gzip stream truncated")
    except zlib.error as exc:
        raise InventoryError(f"not valid gzip: {exc}") from None
    if buffer:
        raise InventoryError("inventory does not end with a newline (truncated?)")
    return decoder.finish(digest.hexdigest())
