"""Which tags and revisions are complete, why the others are not, and what a GC would free.

A manifest is complete when its blob, every blob it references and every
child manifest (of an index, recursively) are present. The walk's picture of
the tree (registry_monitor/storage/walk.py) gives the answers: blob keys per
bucket and the parsed manifests' references, no file is read again except to
name a missing piece (rare) and to size reclaimable blobs.
"""

# Annotations evaluated, not `from __future__ import annotations`: typing.NamedTuple
# compiles each string annotation into a ForwardRef, ~0.1 ms a record at every start.
from array import array
from bisect import bisect_left
from collections.abc import Callable
from typing import NamedTuple

from registry_monitor.storage.inventory import RepoTags
from registry_monitor.storage.layout import (
    LayoutError,
    blob_data_path,
    digest_key,
    format_digest,
    read_manifest,
)
from registry_monitor.storage.manifests import ManifestCache
from registry_monitor.storage.walk import MAX_INDEX_DEPTH, UNSETTLED, Repo, Tree

EXAMPLES = 10


class Completeness(NamedTuple):
    dangling: int  # tags and revisions whose manifest is not complete
    examples: tuple[str, ...]
    complete_tags: dict[str, RepoTags]  # by repository: only the complete tags
    reclaimable_blobs: int  # referenced by no revision
    reclaimable_bytes: int


class Checker:
    """Is a manifest complete (its blob, every blob it references, every child)? Memoised."""

    def __init__(self, cache: ManifestCache, present: Callable[[int], bool]) -> None:
        self.cache = cache
        self.present = present
        self.state = bytearray(len(cache))  # 0 unknown, 1 complete, 2 not, 3 being checked
        self.marked = bytearray(len(cache))

    def complete(self, digest: bytes, depth: int = 0) -> bool:
        return self.complete_key(digest_key(digest), depth)

    def complete_key(self, key: int, depth: int = 0) -> bool:
        if not self.present(key):
            return False
        i = self.cache.index(key)
        if i < 0:
            return False  # present but not read (yet)
        if self.state[i]:
            return self.state[i] == 1
        self.state[i] = 3  # a cycle of indexes is not complete
        entry = self.cache.entry(i)
        ok = (
            not isinstance(entry, str)
            and all(map(self.present, entry[0]))
            and depth < MAX_INDEX_DEPTH
            and all(self.complete(child, depth + 1) for child in entry[1])
        )
        self.state[i] = 1 if ok else 2
        return ok

    def mark(self, key: int, mark: Callable[[int], None], depth: int = 0) -> None:
        """Mark a manifest, its references and its children (once each)."""
        mark(key)
        i = self.cache.index(key)
        if i < 0 or self.marked[i]:
            return
        self.marked[i] = 1
        entry = self.cache.entry(i)
        if isinstance(entry, str):
            return
        for ref in entry[0]:
            mark(ref)
        if depth < MAX_INDEX_DEPTH:
            for child in entry[1]:
                self.mark(digest_key(child), mark, depth + 1)


def assess(tree: Tree) -> Completeness:
    """Judge every tag and revision of the tree as the walk left it (manifests parsed)."""
    check = Checker(tree.manifests, tree.present)
    dangling = 0
    examples: list[str] = []
    tags_out: dict[str, RepoTags] = {}
    for name, repo in tree.repos.items():
        if not repo.is_repository:
            continue
        keep: list[int] = []
        for i, tag in enumerate(repo.tag_names.split("\n") if repo.tag_names else ()):
            digest = repo.tag_digest(i)
            error = repo.tag_errors.get(i) if repo.tag_errors else None
            if error is None and check.complete(digest):
                keep.append(i)
                continue
            dangling += 1
            if len(examples) < EXAMPLES:
                examples.append(f"{name}:{tag}: {error or _explain(tree, check, digest)}")
        tags_out[name] = _complete_tags(repo, keep)
        for key in repo.revisions:
            if check.complete_key(key):
                continue
            dangling += 1
            if tree.present(key) and tree.manifests.index(key) < 0:
                repo.revs_key = UNSETTLED  # its blob came back: list and parse again
            if len(examples) < EXAMPLES:
                digest = tree.revision_digest(name, key)
                examples.append(f"{name}@{format_digest(digest)}: {_explain(tree, check, digest)}")
    blobs, size = _reclaimable(tree, check)
    return Completeness(dangling, tuple(examples), tags_out, blobs, size)


def _complete_tags(repo: Repo, keep: list[int]) -> RepoTags:
    if len(keep) == repo.tag_count():
        return RepoTags(repo.tag_names, repo.tag_digests, repo.tag_mtimes)
    names = repo.tag_names.split("\n")
    return RepoTags(
        "\n".join(names[i] for i in keep),
        b"".join(repo.tag_digest(i) for i in keep),
        array("d", (repo.tag_mtimes[i] for i in keep)),
    )


def _explain(tree: Tree, check: Checker, digest: bytes, chain: tuple[bytes, ...] = ()) -> str:
    """Why a manifest is not complete, naming the first missing piece.

    `chain` holds the indexes that led here: content addressing rules out a
    cycle of indexes, but a tree written by hand (or broken) may hold one.
    """
    key = digest_key(digest)
    if not tree.present(key):
        return f"manifest blob {format_digest(digest)} missing"
    i = tree.manifests.index(key)
    entry = tree.manifests.entry(i) if i >= 0 else "manifest could not be read"
    if isinstance(entry, str):
        return f"manifest {format_digest(digest)} unusable: {entry}"
    refs, children = entry
    for ref in refs:
        if not tree.present(ref):
            name = _name_ref(tree, digest, ref)
            return f"blob {name} of manifest {format_digest(digest)} missing"
    for child in children:
        if check.complete(child):
            continue
        if child == digest:
            return f"manifest {format_digest(digest)} references itself"
        if child in chain:
            return (
                f"manifest {format_digest(digest)} references {format_digest(child)}, "
                "which lists it"
            )
        if len(chain) < MAX_INDEX_DEPTH:
            why = _explain(tree, check, child, (*chain, digest))
            return f"index {format_digest(digest)}: {why}"
    return f"manifest {format_digest(digest)} nests deeper than {MAX_INDEX_DEPTH} levels"


def _name_ref(tree: Tree, manifest: bytes, ref_key: int) -> str:
    """The full digest of a missing reference: read the manifest again (rare)."""
    try:
        refs = read_manifest(blob_data_path(tree.blobs_dir, manifest))
    except (OSError, LayoutError):
        return f"sha256:{ref_key:016x}…"
    for d in refs.blobs:
        if digest_key(d) == ref_key:
            return format_digest(d)
    return f"sha256:{ref_key:016x}…"


def _reclaimable(tree: Tree, check: Checker) -> tuple[int, int]:
    """Blobs no revision references (what a garbage collection would delete)."""
    buckets = tree.buckets
    marked = [bytearray(len(b.keys)) for b in buckets]

    def mark(key: int) -> None:
        keys = buckets[key >> 56].keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            marked[key >> 56][i] = 1

    for repo in tree.repos.values():
        for key in repo.revisions:
            check.mark(key, mark)
    count = size = 0
    for bucket, flags in zip(buckets, marked, strict=True):
        unmarked = [i for i, f in enumerate(flags) if not f]
        digests = bucket.digests() if unmarked else b""
        for i in unmarked:
            st = tree.stat(blob_data_path(tree.blobs_dir, digests[i * 32 : (i + 1) * 32]))
            if st is not None:
                count += 1
                size += st.st_size
    return count, size
