"""The registry's content, read from its filesystem layout, incrementally.

A first scan reads every tag link, lists every revision and blob and parses
every manifest once. A rescan re-reads only what changed. What it relies on:

- A blob appears or goes as a directory in `blobs/sha256/<xx>/` (the registry
  renames an upload into place and deletes with RemoveAll; rsync creates and
  removes the directory too), so an unchanged status-change time (ctime) of
  `<xx>/` means an unchanged list of blobs there.
- Tags, revisions and uploads are directories in `_manifests/tags/`,
  `_manifests/revisions/sha256/` and `_uploads/`: the same holds for them.
- A tag *move* rewrites `tags/<tag>/current/link`: registry 2.8 truncates and
  rewrites it in place, which changes no directory at all; newer registries
  and rsync rename a new file over it. So every tag link is stat'ed on every
  scan (ino, size, mtime, ctime); when those of a repository differ from
  last time, its links are read again.
- ctime, not mtime: rsync -a copies the active's mtimes onto the standby's
  files and directories, ctime cannot be set from user space.
- A time stamp is only trusted when it is at least RACY_NS older than the scan
  (a change in the same clock tick as the previous one leaves it equal, as in
  git's "racy clean" problem); and a directory holding a half-created entry
  (a blob directory without `data`, a revision whose blob is not there yet)
  is listed again next time.
- Each scan also re-lists a sixteenth of the tree regardless, so a change the
  time stamps do not show (a `data` file deleted by hand inside its blob
  directory) is found within 16 scans.

Manifest references are cached by digest (content-addressed, so never stale).
Nothing is held per tag or per blob as a Python object (README "Storage
scan"): blobs and revisions as 64-bit keys in arrays, tag digests as raw
bytes, tag names joined per repository; full blob digests wait in a spill
file.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import threading
import time
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.storage.inventory import (
    DigestSet,
    Inventory,
    RepoTags,
    build_inventory,
    valid_repository,
    valid_tag,
)
from registry_monitor.storage.layout import (
    DIGEST_SIZE,
    MAX_STARTEDAT_BYTES,
    LayoutError,
    blob_data_path,
    blobs_root,
    digest_key,
    format_digest,
    is_hex_digest,
    read_link,
    read_manifest,
    repositories_root,
)
from registry_monitor.storage.manifests import ManifestCache
from registry_monitor.storage.spill import Spill

RACY_NS = 2 * 10**9
DEEP_SLICES = 16
EXAMPLES = 10
MAX_INDEX_DEPTH = 8
ABSENT = -1  # the key of a directory that does not exist
UNSETTLED = 0  # the key of something to look at again next scan
NO_DIGEST = bytes(DIGEST_SIZE)
_KEYS = struct.Struct(">Q24x")
_EMPTY_KEYS: array[int] = array("Q")
_NO_TIMES: array[float] = array("d")


def _key(st: os.stat_result) -> int:
    """A change key of a file or directory; never ABSENT or UNSETTLED."""
    return hash((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)) or 1


def _keys_of(digests: bytes) -> array[int]:
    return array("Q", (k for (k,) in _KEYS.iter_unpack(digests)))


class _Bucket:
    """The blobs of one `blobs/sha256/<xx>/` directory: 64-bit keys in memory, the full
    digests (sorted, 32 bytes each) in the spill file."""

    __slots__ = ("key", "keys", "ref", "spill", "total_bytes")

    def __init__(self, key: int, digests: bytes, total_bytes: int, spill: Spill | None) -> None:
        self.key = key
        self.keys = _keys_of(digests)
        self.spill = spill
        self.ref = spill.put(digests) if spill is not None and digests else (0, 0)
        self.total_bytes = total_bytes

    def digests(self) -> bytes:
        return self.spill.get(self.ref) if self.spill is not None else b""


_NO_BUCKET = _Bucket(ABSENT, b"", 0, None)


class _Repo:
    """One repository's tags, revisions and uploads as of the last scan."""

    __slots__ = (
        "is_repository",
        "links_key",
        "revisions",
        "revs_key",
        "tag_digests",
        "tag_errors",
        "tag_mtimes",
        "tag_names",
        "tags_key",
        "uploads",
        "uploads_key",
    )

    def __init__(self) -> None:
        self.is_repository = True  # False: a directory holding only `_uploads`
        self.tags_key = UNSETTLED
        self.tag_names = ""  # "\n"-joined, sorted
        self.links_key = UNSETTLED  # of the stats of all its tag links together
        self.tag_digests = b""
        self.tag_mtimes: array[float] = _NO_TIMES
        self.tag_errors: dict[int, str] | None = None  # tag index -> why its link is unusable
        self.revs_key = UNSETTLED
        self.revisions: array[int] = _EMPTY_KEYS  # sorted 64-bit keys of manifest digests
        self.uploads_key = UNSETTLED
        self.uploads: tuple[float | None, ...] = ()  # startedat; None: unreadable

    def content(self) -> tuple[object, ...]:
        return (
            self.is_repository,
            self.tag_names,
            self.tag_digests,
            self.tag_mtimes,
            self.tag_errors,
            self.revisions,
        )


@dataclass(frozen=True, slots=True)
class ScanStats:
    seconds: float  # the scan alone (the probe's duration adds the rolling checks)
    incremental: bool  # False for the first scan of this process
    changed: bool  # content differed from the previous scan
    buckets_listed: int  # blob directories listed again (of 256)
    repositories_listed: int  # repositories whose listings were read again
    tag_links_read: int
    manifests_parsed: int


@dataclass(frozen=True, slots=True)
class StorageSnapshot:
    """What a scan found; `inventory` is the content for /api/inventory and the standby."""

    started_at: float
    finished_at: float
    repositories: int
    tags: int
    manifests: int  # revision links, summed over repositories
    blobs: int
    blob_bytes: int
    last_push: float | None  # newest tag link mtime
    uploads_active: int
    uploads_stale: int
    dangling_references: int
    dangling_examples: tuple[str, ...]
    reclaimable_blobs: int
    reclaimable_bytes: int
    notes: tuple[str, ...]
    stats: ScanStats
    inventory: Inventory = field(repr=False, metadata={"json": False})

    def summary(self) -> str:
        text = (
            f"{self.repositories} repositories, {self.tags} tags, {self.blobs} blobs "
            f"({self.blob_bytes / 2**30:.2f} GiB)"
        )
        if self.dangling_references:
            text += f", {self.dangling_references} DANGLING references"
        if self.uploads_stale:
            text += f", {self.uploads_stale} stale uploads"
        return text


@dataclass(slots=True)
class _Derived:
    """Results that depend on the whole tree; recomputed only when something changed."""

    dangling: int
    examples: tuple[str, ...]
    reclaimable_blobs: int
    reclaimable_bytes: int
    inventory: Inventory


UPLOAD_BIRTH_SECONDS = 60.0  # longer than any registry takes to write startedat


def parse_startedat(data: bytes) -> float | None:
    """An upload's `startedat` (RFC 3339, as the registry writes it) as unix time."""
    try:
        text = data.decode("ascii").strip()
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


class Scanner:
    """Scans one data directory; keeps what it needs to rescan cheaply. Thread-safe."""

    def __init__(self, data_dir: Path, node: str, role: str, stale_upload_seconds: float) -> None:
        self.data_dir = data_dir
        self.node = node
        self.role = role
        self.stale_upload_seconds = stale_upload_seconds
        self.racy_ns = RACY_NS
        self.deep_slices = DEEP_SLICES  # 0: never re-list what the time stamps say is unchanged
        self._lock = threading.Lock()
        self._buckets: list[_Bucket] = [_NO_BUCKET] * 256
        self._spill = Spill()
        self._repos: dict[str, _Repo] = {}
        self._manifests = ManifestCache()
        self._derived: _Derived | None = None
        self._scans = 0
        self._interrupted = False  # a scan stopped after updating some caches
        self._last_scan = 0.0  # when the last good scan finished
        # per scan
        self._errors: list[str] = []
        self._notes: list[str] = []
        self._loops: list[str] = []
        self._racy_limit = 0
        self._counts = {"buckets": 0, "repos": 0, "links": 0, "manifests": 0}

    def scan(self, deadline: Deadline) -> StorageSnapshot:
        """Scan now (incrementally after the first time)."""
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ProbeFailed("another scan of the data directory is still running")
        try:
            return self._scan(deadline)
        finally:
            self._lock.release()

    # ------------------------------------------------------------ the walk

    def _scan(self, deadline: Deadline) -> StorageSnapshot:
        started = time.time()
        if not self.data_dir.is_dir():
            raise ProbeFailed(f"data directory {self.data_dir} does not exist")
        self._errors, self._notes, self._loops = [], [], []
        self._counts = dict.fromkeys(self._counts, 0)
        self._racy_limit = time.time_ns() - self.racy_ns
        self._scans += 1
        first = not self._last_scan
        deep = self._scans % self.deep_slices if self.deep_slices else -1
        stale = self._derived is None or self._interrupted
        self._interrupted = True

        blobs_changed, blobs_removed = self._scan_blobs(deadline, deep)
        repos_changed = self._scan_repositories(deadline, deep)
        if self._loops:
            self._notes.append(f"{len(self._loops)} symlink loops ignored, first: {self._loops[0]}")
        if self._errors:
            raise ProbeFailed(
                f"{len(self._errors)} paths could not be read, first: {self._errors[0]}"
            )
        # a manifest parsed is something learnt (say, a revision whose blob came back)
        changed = stale or blobs_changed or repos_changed or self._counts["manifests"] > 0
        if changed or self._derived is None:
            self._manifests.commit(self._present if blobs_removed or stale else None)
            self._derived = self._derive(started, deadline)
        self._interrupted = False
        snapshot = self._snapshot(started, self._derived, first, changed)
        self._last_scan = snapshot.finished_at
        return snapshot

    def _unreadable(self, path: str, exc: OSError) -> None:
        """A symlink loop is garbage in the tree, noted and skipped as the registry skips
        it; any other error means the tree could not be read, and fails the scan."""
        if exc.errno == errno.ELOOP:
            self._loops.append(path)
        else:
            self._errors.append(f"{path}: {exc.strerror or exc}")

    def _stat(self, path: str) -> os.stat_result | None:
        try:
            return os.stat(path)  # noqa: PTH116 - str paths: no Path object per file
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self._unreadable(path, exc)
            return None

    def _settled(self, st: os.stat_result | None) -> int:
        if st is None:
            return ABSENT
        return _key(st) if st.st_ctime_ns < self._racy_limit else UNSETTLED

    def _listdir(self, path: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(path) as it:
                return list(it)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            self._unreadable(path, exc)
            return []

    def _scan_blobs(self, deadline: Deadline, deep: int) -> tuple[bool, bool]:
        """(changed, some blob removed) after bringing every bucket up to date."""
        root = str(blobs_root(self.data_dir))
        changed = removed = False
        for b in range(256):
            if deadline.expired():
                raise ProbeFailed("storage scan ran out of time while listing blobs")
            path = f"{root}/{b:02x}"
            key = self._settled(self._stat(path))
            old = self._buckets[b]
            if key != UNSETTLED and key == old.key and b % max(1, self.deep_slices) != deep:
                continue
            new = self._read_bucket(path, b, key) if key != ABSENT else _NO_BUCKET
            self._counts["buckets"] += key != ABSENT
            if new.keys != old.keys or new.total_bytes != old.total_bytes:
                changed = True
                removed = removed or bool(set(old.keys).difference(new.keys))
            if old.spill is self._spill:
                self._spill.release(old.ref)
            self._buckets[b] = new
        if self._spill.wasteful():  # copy the live digests to a new file, drop the old
            spill, self._spill = self._spill, Spill()
            self._buckets = [self._respill(bucket) for bucket in self._buckets]
            spill.close()
        return changed, removed

    def _respill(self, bucket: _Bucket) -> _Bucket:
        if bucket.spill is None:
            return bucket
        new = _Bucket(bucket.key, b"", bucket.total_bytes, None)
        new.keys, new.spill, new.ref = bucket.keys, self._spill, self._spill.put(bucket.digests())
        return new

    def _read_bucket(self, path: str, b: int, key: int) -> _Bucket:
        prefix = f"{b:02x}"
        names: list[str] = []
        total = 0
        for entry in self._listdir(path):
            name = entry.name
            if not (is_hex_digest(name) and name.startswith(prefix)):
                continue
            st = self._stat(f"{path}/{name}/data")
            if st is None or not stat.S_ISREG(st.st_mode):
                key = UNSETTLED  # a blob directory still being filled: look again
                continue
            names.append(name)
            total += st.st_size
        names.sort()
        return _Bucket(key, bytes.fromhex("".join(names)), total, self._spill)

    def _walk(self, root: str) -> Iterator[tuple[str, str, bool, bool]]:
        """(name, path, is a repository, has uploads) for every repository directory."""
        stack = [("", root)]
        while stack:
            name, path = stack.pop()
            entries = self._listdir(path)
            markers = {e.name for e in entries if e.name.startswith("_")}
            is_repo = bool(markers & {"_layers", "_manifests"})
            if name and (is_repo or "_uploads" in markers):
                yield name, path, is_repo, "_uploads" in markers
            for e in sorted(entries, key=lambda e: e.name, reverse=True):
                if not e.name.startswith("_") and e.is_dir(follow_symlinks=False):
                    stack.append((f"{name}/{e.name}" if name else e.name, e.path))

    def _scan_repositories(self, deadline: Deadline, deep: int) -> bool:
        root = repositories_root(self.data_dir)
        changed = False
        repos: dict[str, _Repo] = {}
        skipped = 0
        for name, path, is_repo, _ in self._walk(str(root)):
            if deadline.expired():
                raise ProbeFailed(f"storage scan ran out of time after {len(repos)} repositories")
            if not valid_repository(name):
                skipped += 1
                continue
            old = self._repos.get(name)
            is_deep = zlib.crc32(name.encode()) % max(1, self.deep_slices) == deep
            repo = self._scan_repo(path, old, is_deep)
            repo.is_repository = is_repo
            if old is None or repo.content() != old.content():
                changed = True
            repos[name] = repo
        if skipped:
            self._notes.append(
                f"{skipped} directories under repositories/ skipped: not valid repository names"
            )
        if set(repos) != set(self._repos):
            changed = True
        self._repos = repos
        return changed

    def _scan_repo(self, path: str, old: _Repo | None, deep: bool) -> _Repo:
        repo = _Repo()
        reuse = old is not None and not deep
        listed = False

        tags_dir = f"{path}/_manifests/tags"
        repo.tags_key = self._settled(self._stat(tags_dir))
        if (
            reuse
            and old is not None
            and repo.tags_key not in (UNSETTLED,)
            and (repo.tags_key == old.tags_key)
        ):
            repo.tag_names = old.tag_names
        elif repo.tags_key != ABSENT:
            listed = True
            names = sorted(
                e.name for e in self._listdir(tags_dir) if e.is_dir(follow_symlinks=False)
            )
            bad = [n for n in names if not valid_tag(n)]
            if bad:
                self._notes.append(f"{path}: {len(bad)} tag directories with invalid names")
            repo.tag_names = "\n".join(n for n in names if valid_tag(n))
        self._read_tags(tags_dir, repo, old)

        revs_dir = f"{path}/_manifests/revisions/sha256"
        repo.revs_key = self._settled(self._stat(revs_dir))
        if (
            reuse
            and old is not None
            and repo.revs_key != UNSETTLED
            and (repo.revs_key == old.revs_key)
        ):
            repo.revisions = old.revisions
        elif repo.revs_key != ABSENT:
            listed = True
            repo.revisions = self._read_revisions(revs_dir, repo)

        uploads_dir = f"{path}/_uploads"
        repo.uploads_key = self._settled(self._stat(uploads_dir))
        if (
            reuse
            and old is not None
            and repo.uploads_key != UNSETTLED
            and (repo.uploads_key == old.uploads_key)
        ):
            repo.uploads = old.uploads
        elif repo.uploads_key != ABSENT:
            listed = True
            repo.uploads = self._read_uploads(uploads_dir)
        self._counts["repos"] += listed
        if old is not None and repo.content() == old.content():
            # share the old objects: equal content, and the new copies can go
            repo.tag_digests, repo.tag_mtimes = old.tag_digests, old.tag_mtimes
            repo.revisions = old.revisions
        return repo

    def _read_tags(self, tags_dir: str, repo: _Repo, old: _Repo | None) -> None:
        """Digest and push time of each tag. Every link is stat'ed; if the stats of all
        of a repository's links are as before, none is read again, else all are (one
        key per repository, not per tag: a tag move re-reads a few links, cheaply)."""
        names = repo.tag_names.split("\n") if repo.tag_names else []
        links = [f"{tags_dir}/{name}/current/link" for name in names]
        stats = [self._stat(link) for link in links]
        keys = [self._settled(st) if st is not None else UNSETTLED for st in stats]
        repo.links_key = UNSETTLED if UNSETTLED in keys else hash(tuple(keys)) or 1
        if (
            old is not None
            and repo.links_key != UNSETTLED
            and repo.links_key == old.links_key
            and repo.tag_names == old.tag_names
            and old.tag_errors is None
        ):
            repo.tag_digests, repo.tag_mtimes = old.tag_digests, old.tag_mtimes
            return
        errors: dict[int, str] = {}
        digests = bytearray()
        for i, (link, st) in enumerate(zip(links, stats, strict=True)):
            digest = NO_DIGEST
            if st is None:
                loop = link in self._loops  # few, if any
                errors[i] = "tag link is a symlink loop" if loop else "tag has no current/link"
            else:
                self._counts["links"] += 1
                try:
                    digest = read_link(link)
                except LayoutError as exc:
                    errors[i] = f"tag link unusable: {exc}"
                except (FileNotFoundError, NotADirectoryError):
                    errors[i] = "tag has no current/link"
                    repo.links_key = UNSETTLED
                except OSError as exc:
                    self._unreadable(link, exc)
            digests += digest
        repo.tag_digests = bytes(digests)
        repo.tag_mtimes = array("d", [st.st_mtime if st else 0.0 for st in stats])
        repo.tag_errors = errors or None

    def _read_revisions(self, revs_dir: str, repo: _Repo) -> array[int]:
        """The repository's manifest revisions as keys; new manifests are parsed now,
        while their full digests are at hand (only the keys are kept)."""
        names = []
        for entry in self._listdir(revs_dir):
            if not is_hex_digest(entry.name):
                continue
            st = self._stat(f"{revs_dir}/{entry.name}/link")
            if st is None or not stat.S_ISREG(st.st_mode):
                repo.revs_key = UNSETTLED  # no link (yet): not a revision now, look again
                continue
            names.append(entry.name)
        names.sort()
        keys = array("Q")
        for name in names:
            digest = bytes.fromhex(name)
            key = digest_key(digest)
            keys.append(key)
            if key not in self._manifests and not self._parse(digest):
                repo.revs_key = UNSETTLED  # its blob is not here (yet): list again
        return keys

    def _revision_digest(self, name: str, key: int) -> bytes:
        """The full digest of one of a repository's revisions, by listing them (rare)."""
        revs_dir = repositories_root(self.data_dir) / name / "_manifests/revisions/sha256"
        for entry in self._listdir(str(revs_dir)):
            if is_hex_digest(entry.name) and digest_key(bytes.fromhex(entry.name)) == key:
                return bytes.fromhex(entry.name)
        return key.to_bytes(8, "big") + bytes(DIGEST_SIZE - 8)

    def _read_uploads(self, uploads_dir: str) -> tuple[float | None, ...]:
        started: list[float | None] = []
        for entry in self._listdir(uploads_dir):
            if not entry.is_dir(follow_symlinks=False):
                continue
            when: float | None = None
            try:
                fd = os.open(f"{entry.path}/startedat", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    when = parse_startedat(os.read(fd, MAX_STARTEDAT_BYTES))
                finally:
                    os.close(fd)
            except OSError:
                pass  # missing or unreadable: the purger skips it too
            if when is None:
                st = self._stat(entry.path)
                if st is None:
                    # finished since the listing: the registry removes startedat, then
                    # the directory (RemoveAll). Gone is no upload at all, not a stale one.
                    continue
                # the registry makes the directory, then writes startedat: an upload
                # caught in between (a push starting now) is young, not stale
                if time.time() - st.st_mtime < UPLOAD_BIRTH_SECONDS:
                    when = st.st_mtime
            started.append(when)
        return tuple(started)

    # -------------------------------------------------------- consistency

    def _present(self, key: int) -> bool:
        keys = self._buckets[key >> 56].keys
        i = bisect_left(keys, key)
        return i < len(keys) and keys[i] == key

    def _parse(self, digest: bytes, depth: int = 0) -> bool:
        """Make sure the manifest `digest` (and its children) are in the cache if present;
        False when its blob is not here (or could not be read)."""
        key = digest_key(digest)
        cache = self._manifests
        if key in cache:
            i = cache.index(key)
            children = cache.children(i) if i >= 0 else ()  # pending: done when added
        elif self._present(key):
            blobs = str(blobs_root(self.data_dir))
            self._counts["manifests"] += 1
            try:
                refs = read_manifest(blob_data_path(blobs, digest))
            except LayoutError as exc:
                cache.add(digest, str(exc))
                return True
            except FileNotFoundError:
                return False  # removed since it was listed: missing, next scan agrees
            except OSError as exc:
                self._errors.append(f"manifest {format_digest(digest)}: {exc.strerror or exc}")
                return False
            cache.add(digest, refs)
            children = refs.children
        else:
            return False
        if depth < MAX_INDEX_DEPTH:
            for child in children:
                self._parse(child, depth + 1)
        return True

    def _derive(self, started: float, deadline: Deadline) -> _Derived:
        for repo in self._repos.values():
            if deadline.expired():
                raise ProbeFailed("storage scan ran out of time while reading manifests")
            digests = repo.tag_digests
            for i in range(len(digests) // DIGEST_SIZE):
                if not repo.tag_errors or i not in repo.tag_errors:
                    self._parse(digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE])
            # revisions were parsed when listed
        self._manifests.commit()
        check = _Checker(self._manifests, self._present)

        dangling = 0
        examples: list[str] = []
        tags_out: dict[str, RepoTags] = {}
        for name, repo in self._repos.items():
            if not repo.is_repository:
                continue
            digests = repo.tag_digests
            keep: list[int] = []
            for i, tag in enumerate(repo.tag_names.split("\n") if repo.tag_names else ()):
                digest = digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]
                error = repo.tag_errors.get(i) if repo.tag_errors else None
                if error is None and check.complete(digest):
                    keep.append(i)
                    continue
                dangling += 1
                if len(examples) < EXAMPLES:
                    examples.append(f"{name}:{tag}: {error or self._explain(check, digest)}")
            tags_out[name] = _complete_tags(repo, keep)
            for key in repo.revisions:
                if check.complete_key(key):
                    continue
                dangling += 1
                if self._present(key) and self._manifests.index(key) < 0:
                    repo.revs_key = UNSETTLED  # its blob came back: list and parse again
                if len(examples) < EXAMPLES:
                    digest = self._revision_digest(name, key)
                    examples.append(
                        f"{name}@{format_digest(digest)}: {self._explain(check, digest)}"
                    )
        reclaimable_blobs, reclaimable_bytes = self._reclaimable(check)
        inventory = build_inventory(
            self.node,
            self.role,
            started,
            tags_out,
            DigestSet(tuple(b.keys for b in self._buckets)),
            self.blob_chunks(),
        )
        return _Derived(dangling, tuple(examples), reclaimable_blobs, reclaimable_bytes, inventory)

    def _explain(self, check: _Checker, digest: bytes, chain: tuple[bytes, ...] = ()) -> str:
        """Why a manifest is not complete, naming the first missing piece.

        `chain` holds the indexes that led here: content addressing rules out a
        cycle of indexes, but a tree written by hand (or broken) may hold one.
        """
        key = digest_key(digest)
        if not self._present(key):
            return f"manifest blob {format_digest(digest)} missing"
        i = self._manifests.index(key)
        entry = self._manifests.entry(i) if i >= 0 else "manifest could not be read"
        if isinstance(entry, str):
            return f"manifest {format_digest(digest)} unusable: {entry}"
        refs, children = entry
        for ref in refs:
            if not self._present(ref):
                name = self._name_ref(digest, ref)
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
                why = self._explain(check, child, (*chain, digest))
                return f"index {format_digest(digest)}: {why}"
        return f"manifest {format_digest(digest)} nests deeper than {MAX_INDEX_DEPTH} levels"

    def _name_ref(self, manifest: bytes, ref_key: int) -> str:
        """The full digest of a missing reference: read the manifest again (rare)."""
        try:
            refs = read_manifest(blob_data_path(str(blobs_root(self.data_dir)), manifest))
        except (OSError, LayoutError):
            return f"sha256:{ref_key:016x}…"
        for d in refs.blobs:
            if digest_key(d) == ref_key:
                return format_digest(d)
        return f"sha256:{ref_key:016x}…"

    def _reclaimable(self, check: _Checker) -> tuple[int, int]:
        """Blobs no revision references (what a garbage collection would delete)."""
        marked = [bytearray(len(b.keys)) for b in self._buckets]

        def mark(key: int) -> None:
            keys = self._buckets[key >> 56].keys
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                marked[key >> 56][i] = 1

        for repo in self._repos.values():
            for key in repo.revisions:
                check.mark(key, mark)
        count = size = 0
        blobs = str(blobs_root(self.data_dir))
        for bucket, flags in zip(self._buckets, marked, strict=True):
            unmarked = [i for i, f in enumerate(flags) if not f]
            digests = bucket.digests() if unmarked else b""
            for i in unmarked:
                st = self._stat(blob_data_path(blobs, digests[i * 32 : (i + 1) * 32]))
                if st is not None:
                    count += 1
                    size += st.st_size
        return count, size

    def _snapshot(
        self, started: float, derived: _Derived, first: bool, changed: bool
    ) -> StorageSnapshot:
        now = time.time()
        stale_before = now - self.stale_upload_seconds
        tags = manifests = active = stale = 0
        last_push: float | None = None
        for repo in self._repos.values():
            if repo.is_repository:
                count = len(repo.tag_digests) // DIGEST_SIZE
                tags += count
                manifests += len(repo.revisions)
                if count:
                    newest = max(repo.tag_mtimes)
                    last_push = newest if last_push is None else max(last_push, newest)
            for when in repo.uploads:
                if when is None or when < stale_before:
                    stale += 1
                else:
                    active += 1
        return StorageSnapshot(
            started_at=started,
            finished_at=now,
            repositories=sum(r.is_repository for r in self._repos.values()),
            tags=tags,
            manifests=manifests,
            blobs=sum(len(b.keys) for b in self._buckets),
            blob_bytes=sum(b.total_bytes for b in self._buckets),
            last_push=last_push,
            uploads_active=active,
            uploads_stale=stale,
            dangling_references=derived.dangling,
            dangling_examples=derived.examples,
            reclaimable_blobs=derived.reclaimable_blobs,
            reclaimable_bytes=derived.reclaimable_bytes,
            notes=tuple(self._notes),
            stats=ScanStats(
                seconds=round(now - started, 6),
                incremental=not first,
                changed=changed,
                buckets_listed=self._counts["buckets"],
                repositories_listed=self._counts["repos"],
                tag_links_read=self._counts["links"],
                manifests_parsed=self._counts["manifests"],
            ),
            inventory=derived.inventory,
        )

    def blob_chunks(self) -> Iterator[bytes]:
        """Every blob's full digest, sorted, one bucket at a time."""
        for bucket in self._buckets:
            yield bucket.digests()

    def bucket(self, b: int) -> tuple[array[int], Callable[[], bytes]]:
        """Bucket b's sorted keys, and a function reading its full digests."""
        bucket = self._buckets[b]
        return bucket.keys, bucket.digests

    def repository_names(self) -> list[str]:
        return sorted(self._repos)


def _complete_tags(repo: _Repo, keep: list[int]) -> RepoTags:
    count = len(repo.tag_digests) // DIGEST_SIZE
    if len(keep) == count:
        return RepoTags(repo.tag_names, repo.tag_digests, repo.tag_mtimes)
    names = repo.tag_names.split("\n")
    return RepoTags(
        "\n".join(names[i] for i in keep),
        b"".join(repo.tag_digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE] for i in keep),
        array("d", (repo.tag_mtimes[i] for i in keep)),
    )


class _Checker:
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


_SHARED: dict[str, Scanner] = {}
_SHARED_LOCK = threading.Lock()


def shared_scanner(data_dir: Path, node: str, role: str, stale_upload_seconds: float) -> Scanner:
    """One scanner per data directory in this process: the storage and standby probes
    share its caches and never scan the same tree twice at once."""
    key = os.path.realpath(data_dir)
    with _SHARED_LOCK:
        scanner = _SHARED.get(key)
        if scanner is None or (scanner.node, scanner.role) != (node, role):
            scanner = _SHARED[key] = Scanner(data_dir, node, role, stale_upload_seconds)
        scanner.stale_upload_seconds = stale_upload_seconds
        return scanner
