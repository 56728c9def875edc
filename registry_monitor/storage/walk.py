"""The walk: brings a compact picture of the tree up to date, re-reading only what changed.

What it relies on to skip what did not change:

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
- A time stamp is only trusted when it is at least `racy_ns` older than the
  scan (a change in the same clock tick as the previous one leaves it equal,
  as in git's "racy clean" problem); and a directory holding a half-created
  entry (a blob directory without `data`, a revision whose blob is not there
  yet) is listed again next time.
- Each scan also re-lists one slice of the tree regardless (`deep`), so a
  change the time stamps do not show (a `data` file deleted by hand inside
  its blob directory) is found within a round of slices.

Manifest references are cached by digest (content-addressed, so never stale).
Nothing is held per tag or per blob as a Python object: blobs and revisions as
64-bit keys in arrays, tag digests as raw bytes, tag names joined per
repository; full blob digests wait in a spill file.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.files import regular_file
from registry_monitor.storage.layout import (
    DIGEST_SIZE,
    MAX_STARTEDAT_BYTES,
    LayoutError,
    blob_bucket_names,
    blob_data_path,
    blobs_root,
    digest_key,
    format_digest,
    is_hex_digest,
    read_link,
    read_manifest,
    repositories_root,
    valid_repository,
    valid_tag,
)
from registry_monitor.storage.manifests import ManifestCache
from registry_monitor.storage.spill import Spill

MAX_INDEX_DEPTH = 8
ABSENT = -1  # the key of a directory that does not exist
UNSETTLED = 0  # the key of something to look at again next scan
NO_DIGEST = bytes(DIGEST_SIZE)
UPLOAD_BIRTH_SECONDS = 60.0  # longer than any registry takes to write startedat
_KEYS = struct.Struct(">Q24x")
_EMPTY_KEYS: array[int] = array("Q")
_NO_TIMES: array[float] = array("d")


def _key(st: os.stat_result) -> int:
    """A change key of a file or directory; never ABSENT or UNSETTLED."""
    return hash((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)) or 1


def _keys_of(digests: bytes) -> array[int]:
    return array("Q", (k for (k,) in _KEYS.iter_unpack(digests)))


def parse_startedat(data: bytes) -> float | None:
    """An upload's `startedat` (RFC 3339, as the registry writes it) as unix time."""
    from datetime import datetime  # ~1 ms of start-up: only for a registry with uploads

    try:
        text = data.decode("ascii").strip()
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


class Bucket:
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


NO_BUCKET = Bucket(ABSENT, b"", 0, None)


class Repo:
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

    def tag_count(self) -> int:
        return len(self.tag_digests) // DIGEST_SIZE

    def tag_digest(self, i: int) -> bytes:
        return self.tag_digests[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]


class Tree:
    """What the last walk found: blob buckets, repositories, parsed manifests; and the
    walk itself, which brings them up to date. Not thread-safe: the Scanner's lock
    guards it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blobs_dir = str(blobs_root(data_dir))
        self.buckets: list[Bucket] = [NO_BUCKET] * 256
        self.spill = Spill()
        self.repos: dict[str, Repo] = {}
        self.dir_keys: dict[str, int] = {}  # every directory of repositories/, by path
        self.manifests = ManifestCache()
        # per walk
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.loops: list[str] = []
        self.racy_limit = 0
        self.counts = {"buckets": 0, "repos": 0, "links": 0, "manifests": 0}

    def walk(self, deadline: Deadline, racy_ns: int, slices: int, deep: int) -> tuple[bool, bool]:
        """Bring everything up to date: (content changed, some blob removed).

        Slice `deep` of `slices` is listed again whatever its time stamps say
        (deep -1: none is)."""
        self.errors, self.notes, self.loops = [], [], []
        self.counts = dict.fromkeys(self.counts, 0)
        self.racy_limit = time.time_ns() - racy_ns
        blobs_changed, blobs_removed = self._scan_blobs(deadline, slices, deep)
        repos_changed = self._scan_repositories(deadline, slices, deep)
        if self.loops:
            self.notes.append(f"{len(self.loops)} symlink loops ignored, first: {self.loops[0]}")
        if self.errors:
            first = self.errors[0]
            raise ProbeFailed(f"{len(self.errors)} paths could not be read, first: {first}")
        return blobs_changed or repos_changed, blobs_removed

    # ------------------------------------------------------------ file system

    def unreadable(self, path: str, exc: OSError) -> None:
        """A symlink loop is garbage in the tree, noted and skipped as the registry skips
        it; any other error means the tree could not be read, and fails the scan."""
        if exc.errno == errno.ELOOP:
            self.loops.append(path)
        else:
            self.errors.append(f"{path}: {exc.strerror or exc}")

    def stat(self, path: str) -> os.stat_result | None:
        try:
            return os.stat(path)  # noqa: PTH116 - str paths: no Path object per file
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self.unreadable(path, exc)
            return None

    def _settled(self, st: os.stat_result | None) -> int:
        if st is None:
            return ABSENT
        return _key(st) if st.st_ctime_ns < self.racy_limit else UNSETTLED

    def _listdir(self, path: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(path) as it:
                return list(it)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            self.unreadable(path, exc)
            return []

    def _unchanged(self, path: str, old_key: int | None) -> tuple[int, bool]:
        """A directory's change key now, and whether last scan's listing of it still
        holds: its key is settled and the same (old_key None: not to be reused)."""
        key = self._settled(self.stat(path))
        return key, old_key is not None and key != UNSETTLED and key == old_key

    # ------------------------------------------------------------ blobs

    def _scan_blobs(self, deadline: Deadline, slices: int, deep: int) -> tuple[bool, bool]:
        """(changed, some blob removed) after bringing every bucket up to date."""
        changed = removed = False
        listed = blob_bucket_names(str(self.blobs_dir))
        for b in range(256):
            if deadline.expired():
                raise ProbeFailed("storage scan ran out of time while listing blobs")
            name = f"{b:02x}"
            path = f"{self.blobs_dir}/{name}"
            old = self.buckets[b]
            old_key = old.key if b % slices != deep else None
            if listed is not None and name not in listed:
                key, same = ABSENT, old_key == ABSENT  # what a stat would have found
            else:
                key, same = self._unchanged(path, old_key)
            if same:
                continue
            new = self._read_bucket(path, b, key) if key != ABSENT else NO_BUCKET
            self.counts["buckets"] += key != ABSENT
            if new.keys != old.keys or new.total_bytes != old.total_bytes:
                changed = True
                removed = removed or bool(set(old.keys).difference(new.keys))
            if old.spill is self.spill:
                self.spill.release(old.ref)
            self.buckets[b] = new
        if self.spill.wasteful():
            # copy the live digests to a new file; the old one closes when nothing (say,
            # an inventory still waiting to be served) refers to its buckets any more
            self.spill = Spill()
            self.buckets = [self._respill(bucket) for bucket in self.buckets]
        return changed, removed

    def _respill(self, bucket: Bucket) -> Bucket:
        if bucket.spill is None:
            return bucket
        new = Bucket(bucket.key, b"", bucket.total_bytes, None)
        new.keys, new.spill, new.ref = bucket.keys, self.spill, self.spill.put(bucket.digests())
        return new

    def _read_bucket(self, path: str, b: int, key: int) -> Bucket:
        prefix = f"{b:02x}"
        names: list[str] = []
        total = 0
        for entry in self._listdir(path):
            name = entry.name
            if not (is_hex_digest(name) and name.startswith(prefix)):
                continue
            st = self.stat(f"{path}/{name}/data")
            if st is None or not stat.S_ISREG(st.st_mode):
                key = UNSETTLED  # a blob directory still being filled: look again
                continue
            names.append(name)
            total += st.st_size
        names.sort()
        return Bucket(key, bytes.fromhex("".join(names)), total, self.spill)

    def present(self, key: int) -> bool:
        keys = self.buckets[key >> 56].keys
        i = bisect_left(keys, key)
        return i < len(keys) and keys[i] == key

    def blob_chunks(self) -> Iterator[bytes]:
        """Every blob's full digest, sorted, one bucket at a time."""
        for bucket in self.buckets:
            yield bucket.digests()

    # ------------------------------------------------------------ repositories

    def _repository_dirs(self, root: str) -> Iterator[tuple[str, str, bool]]:
        """(name, path, is a repository) for every repository directory."""
        stack = [("", root)]
        while stack:
            name, path = stack.pop()
            self.dir_keys[path] = self._settled(self.stat(path))  # for quiet_since_walk
            entries = self._listdir(path)
            markers = {e.name for e in entries if e.name.startswith("_")}
            is_repo = bool(markers & {"_layers", "_manifests"})
            if name and (is_repo or "_uploads" in markers):
                yield name, path, is_repo
            for e in sorted(entries, key=lambda e: e.name, reverse=True):
                if not e.name.startswith("_") and e.is_dir(follow_symlinks=False):
                    stack.append((f"{name}/{e.name}" if name else e.name, e.path))

    def _scan_repositories(self, deadline: Deadline, slices: int, deep: int) -> bool:
        changed = False
        repos: dict[str, Repo] = {}
        skipped = 0
        self.dir_keys = {}
        for name, path, is_repo in self._repository_dirs(str(repositories_root(self.data_dir))):
            if deadline.expired():
                raise ProbeFailed(f"storage scan ran out of time after {len(repos)} repositories")
            if not valid_repository(name):
                skipped += 1
                continue
            old = self.repos.get(name)
            is_deep = zlib.crc32(name.encode()) % slices == deep
            repo = self._scan_repo(path, old, is_deep)
            repo.is_repository = is_repo
            if old is None or repo.content() != old.content():
                changed = True
            repos[name] = repo
        if skipped:
            self.notes.append(
                f"{skipped} directories under repositories/ skipped: not valid repository names"
            )
        if set(repos) != set(self.repos):
            changed = True
        self.repos = repos
        return changed

    def quiet_since_walk(self, racy_ns: int) -> bool:
        """Cheaply: that no repository, tag or manifest came or went since the last walk.

        A stat of each blob bucket, of each directory of repositories/ and of each
        repository's tags and revisions directories, about a fifth of a rescan's: a
        push adds blob directories, a revision directory (a new manifest) and, for a
        new tag, a tag directory; a new repository changes its parent. Blind to a tag
        moved onto a manifest its repository already has and to a file removed inside
        its directory (only that directory changes): the next full scan finds those."""
        self.errors = []
        self.racy_limit = time.time_ns() - racy_ns
        if not self.dir_keys:
            return False
        for b, bucket in enumerate(self.buckets):
            key = bucket.key
            if key == UNSETTLED or self._settled(self.stat(f"{self.blobs_dir}/{b:02x}")) != key:
                return False
        for path, key in self.dir_keys.items():
            if key == UNSETTLED or self._settled(self.stat(path)) != key:
                return False
        root = str(repositories_root(self.data_dir))
        for name, repo in self.repos.items():
            if UNSETTLED in (repo.links_key, repo.tags_key, repo.revs_key):
                return False
            if self._settled(self.stat(f"{root}/{name}/_manifests/tags")) != repo.tags_key:
                return False
            revisions = f"{root}/{name}/_manifests/revisions/sha256"
            if self._settled(self.stat(revisions)) != repo.revs_key:
                return False
        return not self.errors

    def _scan_repo(self, path: str, old: Repo | None, deep: bool) -> Repo:
        repo = _NO_REPO if old is None or deep else old  # whose listings may be reused
        new = Repo()
        listed = False

        tags_dir = f"{path}/_manifests/tags"
        new.tags_key, same = self._unchanged(tags_dir, repo.tags_key)
        if same:
            new.tag_names = repo.tag_names
        elif new.tags_key != ABSENT:
            listed = True
            names = sorted(
                e.name for e in self._listdir(tags_dir) if e.is_dir(follow_symlinks=False)
            )
            bad = [n for n in names if not valid_tag(n)]
            if bad:
                self.notes.append(f"{path}: {len(bad)} tag directories with invalid names")
            new.tag_names = "\n".join(n for n in names if valid_tag(n))
        self._read_tags(tags_dir, new, old)

        revs_dir = f"{path}/_manifests/revisions/sha256"
        new.revs_key, same = self._unchanged(revs_dir, repo.revs_key)
        if same:
            new.revisions = repo.revisions
        elif new.revs_key != ABSENT:
            listed = True
            new.revisions = self._read_revisions(revs_dir, new)

        uploads_dir = f"{path}/_uploads"
        new.uploads_key, same = self._unchanged(uploads_dir, repo.uploads_key)
        if same:
            new.uploads = repo.uploads
        elif new.uploads_key != ABSENT:
            listed = True
            new.uploads = self._read_uploads(uploads_dir)

        self.counts["repos"] += listed
        if old is not None and new.content() == old.content():
            # share the old objects: equal content, and the new copies can go
            new.tag_digests, new.tag_mtimes = old.tag_digests, old.tag_mtimes
            new.revisions = old.revisions
        return new

    def _read_tags(self, tags_dir: str, repo: Repo, old: Repo | None) -> None:
        """Digest and push time of each tag. Every link is stat'ed; if the stats of all
        of a repository's links are as before, none is read again, else all are (one
        key per repository, not per tag: a tag move re-reads a few links, cheaply)."""
        names = repo.tag_names.split("\n") if repo.tag_names else []
        links = [f"{tags_dir}/{name}/current/link" for name in names]
        stats = [self.stat(link) for link in links]
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
                loop = link in self.loops  # few, if any
                errors[i] = "tag link is a symlink loop" if loop else "tag has no current/link"
            else:
                self.counts["links"] += 1
                try:
                    digest = read_link(link)
                except LayoutError as exc:
                    errors[i] = f"tag link unusable: {exc}"
                except (FileNotFoundError, NotADirectoryError):
                    errors[i] = "tag has no current/link"
                    repo.links_key = UNSETTLED
                except OSError as exc:
                    self.unreadable(link, exc)
            digests += digest
        repo.tag_digests = bytes(digests)
        repo.tag_mtimes = array("d", [st.st_mtime if st else 0.0 for st in stats])
        repo.tag_errors = errors or None

    def _read_revisions(self, revs_dir: str, repo: Repo) -> array[int]:
        """The repository's manifest revisions as keys; new manifests are parsed now,
        while their full digests are at hand (only the keys are kept)."""
        names = []
        for entry in self._listdir(revs_dir):
            if not is_hex_digest(entry.name):
                continue
            st = self.stat(f"{revs_dir}/{entry.name}/link")
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
            if key not in self.manifests and not self.parse(digest):
                repo.revs_key = UNSETTLED  # its blob is not here (yet): list again
        return keys

    def revision_digest(self, name: str, key: int) -> bytes:
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
                fd, _ = regular_file.open_fd(f"{entry.path}/startedat", blocking=False)
                try:
                    when = parse_startedat(os.read(fd, MAX_STARTEDAT_BYTES))
                finally:
                    os.close(fd)
            except OSError:
                pass  # missing or unreadable: the purger skips it too
            if when is None:
                st = self.stat(entry.path)
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

    # ------------------------------------------------------------ manifests

    def parse(self, digest: bytes, depth: int = 0) -> bool:
        """Make sure the manifest `digest` (and its children) are in the cache if present;
        False when its blob is not here (or could not be read)."""
        key = digest_key(digest)
        cache = self.manifests
        if key in cache:
            i = cache.index(key)
            children = cache.children(i) if i >= 0 else ()  # pending: done when added
        elif self.present(key):
            self.counts["manifests"] += 1
            try:
                refs = read_manifest(blob_data_path(self.blobs_dir, digest))
            except LayoutError as exc:
                cache.add(digest, str(exc))
                return True
            except FileNotFoundError:
                return False  # removed since it was listed: missing, next scan agrees
            except OSError as exc:
                self.errors.append(f"manifest {format_digest(digest)}: {exc.strerror or exc}")
                return False
            cache.add(digest, refs)
            children = refs.children
        else:
            return False
        if depth < MAX_INDEX_DEPTH:
            for child in children:
                self.parse(child, depth + 1)
        return True

    def parse_tagged(self, deadline: Deadline) -> None:
        """Parse every tag's manifest not in the cache yet (revisions were parsed when
        listed), then fold the new entries in."""
        for repo in self.repos.values():
            if deadline.expired():
                raise ProbeFailed("storage scan ran out of time while reading manifests")
            for i in range(repo.tag_count()):
                if not repo.tag_errors or i not in repo.tag_errors:
                    self.parse(repo.tag_digest(i))
        self.manifests.commit()


_NO_REPO = Repo()  # nothing to reuse: every key UNSETTLED
