"""The registry's on-disk layout (filesystem driver, `docker/registry/v2/`), read-only.

Paths, link files and manifest blobs. Digests are kept as 32 raw bytes, never
as hex strings: a large registry holds hundreds of thousands of them. Every
read is size-capped, so a garbage file costs an error, never the exporter's
memory.
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
import os
import re
from pathlib import Path
from typing import NamedTuple

from registry_monitor.clients import bounded_json
from registry_monitor.clients.registry_api import MAX_MANIFEST_BYTES, MAX_MANIFEST_VALUES
from registry_monitor.files import regular_file

DIGEST_SIZE = 32
LINK_SIZE = len("sha256:") + 2 * DIGEST_SIZE  # a link file is exactly this, no newline
MAX_STARTEDAT_BYTES = 256

_LINK = re.compile(rb"sha256:([0-9a-f]{64})")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_HEX = re.compile(r"[0-9a-f]{64}")
# distribution's reference grammar: path components joined by "/", and tag names.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_NAME = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)

# Layers the registry never stores: fetched by clients from their `urls`.
FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)


class LayoutError(ValueError):
    """A file in the registry's tree that does not hold what the layout says it must."""


def v2_root(data_dir: Path) -> Path:
    return data_dir / "docker" / "registry" / "v2"


def blobs_root(data_dir: Path) -> Path:
    return v2_root(data_dir) / "blobs" / "sha256"


def repositories_root(data_dir: Path) -> Path:
    return v2_root(data_dir) / "repositories"


def blob_bucket_names(blobs: str) -> set[str] | None:
    """The entries of blobs/sha256/ (the two-hex-digit buckets): one listing saves a failed
    stat for each bucket a young registry does not have yet. An empty set when the
    directory is absent (no bucket can be there); None when it cannot be listed (then
    each bucket is stat'ed, and an error there reported as ever)."""
    try:
        with os.scandir(blobs) as it:
            return {entry.name for entry in it}
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except OSError:
        return None


def blob_data_path(blobs: str, digest: bytes) -> str:
    """`blobs/sha256/<hex[0:2]>/<hex>/data` under the blobs root given as a string."""
    hexd = digest.hex()
    return f"{blobs}/{hexd[:2]}/{hexd}/data"


def digest_key(digest: bytes) -> int:
    """The first 8 bytes as an int: a compact, sortable key (collisions: ~n²/2^65)."""
    return int.from_bytes(digest[:8], "big")


def format_digest(digest: bytes) -> str:
    return "sha256:" + digest.hex()


def is_hex_digest(name: str) -> bool:
    """A directory name that is a sha256 digest in the layout's lowercase hex."""
    return len(name) == 64 and _HEX.fullmatch(name) is not None


def valid_repository(name: str) -> bool:
    return len(name) <= 255 and REPOSITORY_NAME.fullmatch(name) is not None


def valid_tag(name: str) -> bool:
    return TAG_NAME.fullmatch(name) is not None


def parse_link(data: bytes) -> bytes:
    """A link file's content (`sha256:<64 lowercase hex>`, nothing else) as 32 bytes."""
    match = _LINK.fullmatch(data)
    if match is None:
        if not data:
            raise LayoutError("empty link file")
        raise LayoutError(f"not a sha256 link ({len(data)} bytes: {data[:80]!r})")
    return bytes.fromhex(match.group(1).decode())


def _open_regular(
    path: str, follow: bool = True, blocking: bool = True
) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at path; a FIFO or device planted in the data
    directory is LayoutError at once, never a scan blocked in open()."""
    try:
        return regular_file.open_fd(path, follow, blocking)
    except regular_file.NotRegularFile as exc:
        raise LayoutError(exc.strerror) from None


def read_link(path: str) -> bytes:
    """Read and parse a link file; at most LINK_SIZE + 1 bytes are read."""
    fd, _ = _open_regular(path, follow=False, blocking=False)  # one read of 73 bytes
    try:
        data = os.read(fd, LINK_SIZE + 1)
    finally:
        os.close(fd)
    return parse_link(data)


def parse_digest(value: object) -> bytes:
    """A descriptor's `digest` field (`sha256:<hex>`) as 32 bytes."""
    if not isinstance(value, str):
        raise LayoutError(f"descriptor digest is not a string: {value!r:.80}")
    match = _DIGEST.fullmatch(value)
    if match is None:
        algorithm = value.partition(":")[0] if ":" in value else ""
        if algorithm and algorithm != "sha256":
            raise LayoutError(f"unsupported digest algorithm {algorithm!r}")
        raise LayoutError(f"malformed digest {value!r:.80}")
    return bytes.fromhex(match.group(1))


class ManifestRefs(NamedTuple):
    """What a manifest needs present to be pulled."""

    kind: str  # docker-v2, docker-list, oci-manifest, oci-index, docker-v1
    children: tuple[bytes, ...]  # child manifests (manifest list / OCI index)
    blobs: tuple[bytes, ...]  # config and layers


def _descriptors(doc: dict[str, object], field: str, required: bool) -> list[dict[str, object]]:
    value = doc.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
        raise LayoutError(f"manifest field {field!r} is not a list of descriptors")
    return value


def _stored(descriptor: dict[str, object]) -> bool:
    """False for foreign/non-distributable layers, which live at their `urls`, not here."""
    media = descriptor.get("mediaType")
    foreign = isinstance(media, str) and media in FOREIGN_LAYER_TYPES  # a list is unhashable
    return not (foreign or descriptor.get("urls"))


def parse_manifest(data: bytes) -> ManifestRefs:
    """References of a Docker v2, manifest list, OCI manifest, OCI index or schema 1 manifest."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise LayoutError(f"manifest of {len(data)} bytes exceeds the {MAX_MANIFEST_BYTES} cap")
    try:
        # within the size cap, `[[[[...` or a million `{}` is garbage, not a reason to fail
        # a scan or to hold a hundred megabytes
        doc = bounded_json.loads(data, max_bytes=MAX_MANIFEST_BYTES, max_values=MAX_MANIFEST_VALUES)
    except bounded_json.JsonRefused as exc:
        reason = "is not JSON" if str(exc) == "not JSON" else f"refused: {exc}"
        raise LayoutError(f"manifest blob {reason}") from None
    if not isinstance(doc, dict):
        raise LayoutError("manifest blob is not a JSON object")
    version = doc.get("schemaVersion")
    media = doc.get("mediaType")
    if version == 1:
        layers = _descriptors(doc, "fsLayers", required=True)
        return ManifestRefs(
            "docker-v1", (), tuple(dict.fromkeys(parse_digest(d.get("blobSum")) for d in layers))
        )
    if version != 2:
        raise LayoutError(f"unknown manifest schemaVersion {version!r:.40}")
    if "manifests" in doc:
        children = _descriptors(doc, "manifests", required=True)
        kind = "oci-index" if media in (None, "application/vnd.oci.image.index.v1+json") else ""
        if media == "application/vnd.docker.distribution.manifest.list.v2+json":
            kind = "docker-list"
        if not kind:
            raise LayoutError(f"index with unexpected mediaType {media!r:.80}")
        return ManifestRefs(kind, tuple(parse_digest(d.get("digest")) for d in children), ())
    if "config" in doc or "layers" in doc:
        config = doc.get("config")
        if not isinstance(config, dict):
            raise LayoutError("image manifest without a config descriptor")
        layers = [d for d in _descriptors(doc, "layers", required=False) if _stored(d)]
        kind = ""
        if media == "application/vnd.docker.distribution.manifest.v2+json":
            kind = "docker-v2"
        elif media in (None, "application/vnd.oci.image.manifest.v1+json"):
            kind = "oci-manifest"
        if not kind:
            raise LayoutError(f"image manifest with unexpected mediaType {media!r:.80}")
        refs = [parse_digest(config.get("digest"))]
        refs += (parse_digest(d.get("digest")) for d in layers)
        return ManifestRefs(kind, (), tuple(dict.fromkeys(refs)))
    raise LayoutError("JSON object that is neither an image manifest nor an index")


def read_manifest(path: str) -> ManifestRefs:
    """Open a blob's data file and parse it as a manifest, never reading more than the cap.

    Reads ask for the size fstat gives (plus one byte, to see growth), never for
    the cap: a 4 MiB request per 1 KiB manifest would churn the allocator.
    """
    fd, info = _open_regular(path)
    try:
        size = info.st_size
        if size > MAX_MANIFEST_BYTES:
            raise LayoutError(f"a {size} byte blob is too large to be a manifest")
        data = os.read(fd, size + 1)
        while len(data) > size:  # it grew since the fstat: read on, up to the cap
            more = os.read(fd, 65536)
            if not more:
                break
            data += more
            if len(data) > MAX_MANIFEST_BYTES:
                raise LayoutError("blob grew past the manifest size cap while being read")
    finally:
        os.close(fd)
    return parse_manifest(data)
