"""standby: how far behind the active this node is, in seconds of pushes (standby).

Fetches the active's inventory from its exporter (`/api/inventory`, with
If-None-Match, so an unchanged inventory costs a 304) and compares it with
this node's own scan, in which a tag only counts when its manifest and every
blob it needs are on disk. The active's inventory is kept as it came (gzip,
in an anonymous temporary file) and compared line by line as it is read
back, never decoded whole into memory: at 300k blobs that would sit on top
of this node's own scan. While neither inventory changes, the last
comparison stands. Lag is the recovery point: the age of the oldest
push on the active that this node lacks, i.e. how much a failover would lose
now. When the active cannot be asked, the probe fails: a lag is never guessed.

Clock skew between the nodes never enters the lag: every difference is taken
on one clock. The age of the oldest missing push when the active scanned is
`generated_at - mtime`, both on the active's clock; the inventory's age since
then is the HTTP `Age` the active sends (its clock) plus the time since the
response arrived (this node's monotonic clock).
"""

from __future__ import annotations

import time
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients.http import Client, RequestFailed, Response
from registry_monitor.config import Config
from registry_monitor.files.active_memory import (
    LACKING,
    InventoryMemory,
    KnownInventory,
    Lacking,
    Unreachable,
)
from registry_monitor.files.sync_state import STATE_FILE, load_state, observe
from registry_monitor.probes.divergence import DivergenceFinder, Divergent, DivergentTag
from registry_monitor.storage.canary import CANARY_DIGEST
from registry_monitor.storage.inventory import Inventory, RepoTags
from registry_monitor.storage.inventory_wire import (
    MEDIA_TYPE,
    Body,
    Header,
    InventoryError,
    decode_into,
)
from registry_monitor.storage.layout import digest_key, format_digest, parse_digest
from registry_monitor.storage.scan import Scanner
from registry_monitor.storage.snapshot import StorageSnapshot

EXAMPLES = 10
LOCAL_MAX_AGE = 20.0  # seconds a look at this node's own tree stands (storage looks every 15)


@dataclass(frozen=True, slots=True)
class Comparison:
    missing_repositories: int = 0
    missing_tags: int = 0
    mismatched_tags: int = 0
    missing_blobs: int = 0
    oldest_change: float | None = None  # active's clock: mtime of the oldest lacking tag
    oldest_tag: str | None = None
    examples: tuple[str, ...] = ()
    divergent: Divergent = field(default_factory=Divergent)
    lacking: tuple[tuple[str, str, float, str], ...] = ()  # (repo:tag, digest, mtime, why)


@dataclass(frozen=True, slots=True)
class StandbyStatus:
    active_url: str
    active_node: str
    response: str  # "200" or "304 not modified"
    inventory_generated_at: float  # active's clock
    inventory_age_seconds: float
    in_step: bool
    lag_seconds: float
    missing_repositories: int
    missing_tags: int
    mismatched_tags: int
    missing_blobs: int
    oldest_missing_tag: str | None
    examples: tuple[str, ...]
    local_dangling_references: int
    # pushes that landed here and that the next sync deletes or overwrites (divergence.py)
    divergent_tags: int
    divergent_repositories: int
    divergent_examples: tuple[DivergentTag, ...]  # the first ten, by repository name
    divergent_since: float | None  # start of the last successful sync; None: none known
    # this node's clock: the oldest lacking push (the lag is the time since it), when the
    # active last answered, and the instant its content was as compared (its scan)
    oldest_missing_push: float | None = None
    answered_at: float = 0.0
    known_at: float = 0.0
    lacking: tuple[str, ...] = ()  # repository:tag of the tags lacked, the first ten


class Comparer:
    """What `local` lacks of an active's inventory, taken line by line as it is decoded,
    so that the active's content is never held (the canary repository is monitoring,
    not data)."""

    def __init__(self, local: Inventory, canary: str, since: float | None = None) -> None:
        self.local = local
        self.canary = canary
        self.divergence = DivergenceFinder(local, canary, since)
        self.ignore = frozenset({digest_key(parse_digest(CANARY_DIGEST))})
        self.missing_repos = self.missing = self.mismatched = self.missing_blobs = 0
        self.oldest: float | None = None
        self.oldest_tag: str | None = None
        self.examples: list[str] = []
        self.lacking: list[tuple[str, str, float, str]] = []
        self.bucket = -1  # the blob bucket (first byte) being gathered
        self.pending: list[int] = []

    def _lacking(self, repo: str, tag: str, mtime: float, what: str, digest: bytes) -> None:
        if self.oldest is None or mtime < self.oldest:
            self.oldest, self.oldest_tag = mtime, f"{repo}:{tag}"
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"{repo}:{tag} {what}")
        if len(self.lacking) < LACKING:
            self.lacking.append((f"{repo}:{tag}", format_digest(digest), mtime, what))

    def repository(self, repo: str, theirs: RepoTags) -> None:
        mine = self.local.repositories.get(repo)
        self.divergence.repository(repo, mine, theirs)
        if repo == self.canary:
            return
        if mine is None:
            self.missing_repos += 1
        elif mine.names == theirs.names and mine.digests == theirs.digests:
            return  # the usual case: in step
        where = {t: i for i, t in enumerate(mine.tag_names())} if mine is not None else {}
        for i, tag in enumerate(theirs.tag_names()):
            j = where.get(tag)
            if j is None:
                self.missing += 1
                self._lacking(repo, tag, theirs.mtimes[i], "missing", theirs.digest(i))
            elif mine is not None and mine.digest(j) != theirs.digest(i):
                self.mismatched += 1
                self._lacking(
                    repo, tag, theirs.mtimes[i], "points to another manifest", theirs.digest(i)
                )

    def blob_keys(self, keys: array[int]) -> None:
        # keys ascend, so each bucket arrives whole before the next begins
        for key in keys:
            if key >> 56 != self.bucket:
                self._flush()
                self.bucket = key >> 56
            self.pending.append(key)

    def _flush(self) -> None:
        if self.pending:
            mine = self.local.blobs.keys[self.bucket]
            absent = set(self.pending).difference(mine)
            self.missing_blobs += len(absent - self.ignore) if absent else 0
            self.pending = []

    def result(self) -> Comparison:
        self._flush()
        return Comparison(
            missing_repositories=self.missing_repos,
            missing_tags=self.missing,
            mismatched_tags=self.mismatched,
            missing_blobs=self.missing_blobs,
            oldest_change=self.oldest,
            oldest_tag=self.oldest_tag,
            examples=tuple(self.examples),
            divergent=self.divergence.result(),
            lacking=tuple(self.lacking),
        )


class _Check:
    """Validates without keeping anything."""

    def repository(self, name: str, tags: RepoTags) -> None:
        pass

    def blob_keys(self, keys: array[int]) -> None:
        pass


def lag_seconds(active: Header, oldest_change: float | None, age: float) -> float:
    """Age now of the oldest change the standby lacks; 0 when it lacks none."""
    if oldest_change is None:
        return 0.0
    return max(0.0, active.generated_at - oldest_change) + max(0.0, age)


def _age_header(value: str | None) -> float | None:
    return float(value) if value is not None and value.strip().isdigit() else None


class StandbyProbe:
    name = "standby"

    def __init__(
        self, config: Config, scanner: Scanner | None = None, remember: bool = True
    ) -> None:
        """`scanner`: the process's scanner of config.data_dir (None: one of its own);
        `remember`: keep the active's answers in state_dir (the failover answer's memory;
        off for a caller that only measures, such as the sync guard, run as root)."""
        if config.active_exporter_url is None:
            self.url = None
        else:
            self.url = f"{config.active_exporter_url}/api/inventory"
        self.token = config.api_token
        self.node = config.node
        self.canary = config.write_canary_repository
        self.max_bytes = config.inventory_max_bytes
        self.client = Client(config.ca_file)
        self.scanner = scanner or Scanner(
            config.data_dir, config.node, config.role, config.stale_upload_seconds
        )
        # The active's inventory as last fetched: its body as it came (gzip) in an
        # anonymous temporary file, read again to compare, never held decoded in memory.
        self.active: Header | None = None
        self.body: Body | None = None
        self.gzipped = True
        self.etag: str | None = None
        # (active's ETag, local inventory's generation, last sync's start) -> their
        # comparison, while none of them changes (the local inventory's ETag would write
        # its wire form just to compare)
        self.last: tuple[str, int, float | None, Comparison] | None = None
        # the sync unit's last successful start tells pushes here from pending deletions
        self.sync_unit = config.sync_unit
        self.systemctl = config.systemctl
        self.sync_state = config.state_dir / STATE_FILE
        self.memory = InventoryMemory(config.state_dir)
        self.remember = remember
        self.local_since: float | None = None  # the sync start the last local scan followed

    def _fetch(self, url: str, deadline: Deadline) -> tuple[Header, str, float]:
        """(the active's inventory header, how it came, its age now in seconds)."""
        headers = {"Accept": MEDIA_TYPE, "Accept-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.active is not None and self.etag:
            headers["If-None-Match"] = self.etag
        try:
            resp = self.client.get(url, headers=headers, timeout=deadline.io_timeout(10))
        except RequestFailed as exc:
            raise Unreachable(f"active exporter {url} unreachable: {exc}") from None
        arrived, arrived_at = time.monotonic(), time.time()
        with resp:
            age = _age_header(resp.headers.get("Age"))
            if resp.status == 304 and self.active is not None:
                inventory, how = self.active, "304 not modified"
            elif resp.status == 200:
                inventory, how = self._read(resp, deadline), "200"
                self.active, self.etag = inventory, resp.headers.get("ETag")
            else:
                raise ProbeFailed(_refusal(url, resp))
        if age is None:  # not our exporter's answer: the best bound there is, at arrival
            # (the time since arrival is added below, once: reading the body counts once)
            age = max(0.0, arrived_at - inventory.generated_at)
        return inventory, how, age + (time.monotonic() - arrived)

    def _read(self, resp: Response, deadline: Deadline) -> Header:
        """Check the body as it arrives and keep it as it came, for the comparisons
        until the next change (an unchanged inventory then costs a 304)."""
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("gzip", "identity"):
            raise ProbeFailed(f"active's inventory came with Content-Encoding {encoding!r}")
        body = Body()

        def chunks() -> Iterator[bytes]:
            for chunk in resp.iter_chunks(65536):  # as it came: gzip stays gzip
                if deadline.expired():
                    raise ProbeFailed("active's inventory still arriving at the deadline")
                body.append(chunk)
                yield chunk

        self.active = self.body = self.etag = self.last = None  # a failed read keeps nothing
        try:
            header = decode_into(
                chunks(), _Check(), gzipped=encoding == "gzip", max_bytes=self.max_bytes
            )
        except InventoryError as exc:
            raise ProbeFailed(f"active's inventory rejected: {exc}") from None
        except RequestFailed as exc:
            raise ProbeFailed(f"reading the active's inventory: {exc}") from None
        self.body, self.gzipped = body, encoding == "gzip"
        return header

    def _last_sync_start(self, deadline: Deadline) -> float | None:
        """Start of the last successful sync, as the sync probe keeps it in its state file
        (at most one sync interval old); asked of systemd only when the file has none, as
        the sync probe asks (and the file then keeps it)."""
        kept = load_state(self.sync_state, self.sync_unit)[0].last_success_started
        if kept is not None:
            return kept
        try:
            seen = observe(self.sync_unit, self.systemctl, self.sync_state, deadline.io_timeout())
        except ProbeFailed:
            return None
        return seen.state.last_success_started

    def _compare(
        self, active: Header, local: Inventory, since: float | None, deadline: Deadline
    ) -> Comparison:
        if self.last is not None and self.last[:3] == (active.etag, local.generation, since):
            return self.last[3]  # nothing changed: the same answer
        assert self.body is not None
        comparer = Comparer(local, self.canary, since)

        def chunks(source: Iterable[bytes]) -> Iterator[bytes]:
            for chunk in source:
                if deadline.expired():
                    raise ProbeFailed("still comparing with the active's inventory at the deadline")
                yield chunk

        try:
            decode_into(
                chunks(self.body.chunks()),
                comparer,
                gzipped=self.gzipped,
                max_bytes=self.max_bytes,
            )
        except (InventoryError, OSError) as exc:  # it was checked once: the file let us down
            self.active = self.body = self.etag = self.last = None
            raise ProbeFailed(f"re-reading the active's inventory: {exc}") from None
        found = comparer.result()
        self.last = (active.etag, local.generation, since, found)
        return found

    def __call__(self, deadline: Deadline) -> StandbyStatus:
        if self.url is None:
            raise ProbeFailed("active_exporter_url is not set: nothing to compare with")
        try:
            active, how, age = self._fetch(self.url, deadline)
            now = time.time()  # the instant `age` was taken: every time below is from it
        except Unreachable as exc:  # the active cannot be reached: say what it said last
            raise ProbeFailed(str(exc), partial=self._recalled(deadline)) from None
        if active.role != "active":
            raise ProbeFailed(
                f"{self.url} is node {active.node} with role {active.role}, not the active"
            )
        if active.node == self.node:
            raise ProbeFailed(f"{self.url} is this node ({self.node}) itself")
        since = self._last_sync_start(deadline)
        local = self._local(since, deadline)
        found = self._compare(active, local.inventory, since, deadline)
        lag = lag_seconds(active, found.oldest_change, age)
        oldest = now - lag if found.oldest_change is not None else None
        known = KnownInventory(
            active_node=active.node,
            answered_at=now,
            known_at=now - age,
            missing_tags=found.missing_tags,
            mismatched_tags=found.mismatched_tags,
            missing_repositories=found.missing_repositories,
            missing_blobs=found.missing_blobs,
            divergent_tags=found.divergent.tags,
            divergent_repositories=found.divergent.repositories,
            oldest_missing_push=oldest,
            lacking=tuple(
                Lacking(name, digest, now - lag + (mtime - found.oldest_change), why)
                for name, digest, mtime, why in found.lacking
                if found.oldest_change is not None
            ),
        )
        if self.remember:
            self.memory.keep(known)
        return StandbyStatus(
            active_url=self.url,
            active_node=active.node,
            response=how,
            inventory_generated_at=active.generated_at,
            inventory_age_seconds=round(age, 3),
            in_step=found.oldest_change is None and not found.missing_repositories,
            lag_seconds=lag,
            missing_repositories=found.missing_repositories,
            missing_tags=found.missing_tags,
            mismatched_tags=found.mismatched_tags,
            missing_blobs=found.missing_blobs,
            oldest_missing_tag=found.oldest_tag,
            examples=found.examples,
            local_dangling_references=local.dangling_references,
            divergent_tags=found.divergent.tags,
            divergent_repositories=found.divergent.repositories,
            divergent_examples=found.divergent.examples,
            divergent_since=since,
            oldest_missing_push=oldest,
            answered_at=now,
            known_at=now - age,
            lacking=tuple(name for name, *_ in found.lacking[:EXAMPLES]),
        )

    def _local(self, since: float | None, deadline: Deadline) -> StorageSnapshot:
        """This node's content: the shared scanner's last scan while no push came and no
        sync ended since (the storage probe looks every 15 s; this probe asks the active
        more often), else a scan now."""
        synced = since != self.local_since  # a sync may move tags in place: scan
        self.local_since = since
        if synced:
            return self.scanner.scan(deadline, deep=False)
        return self.scanner.fresh(deadline, LOCAL_MAX_AGE)

    def _recalled(self, deadline: Deadline) -> StandbyStatus | None:
        """What the active told at its last answer (this process's, else state_dir's),
        as a status: the loss known then, its oldest push aging with the clock."""
        known, _ = self.memory.recall()
        if known is None or self.url is None:
            return None
        now = time.time()
        try:
            dangling = self._local(self.local_since, deadline).dangling_references
            since = self._last_sync_start(deadline)
        except ProbeFailed:
            dangling, since = 0, None
        oldest = known.oldest_missing_push
        first = min(known.lacking, key=lambda t: t.pushed_at, default=None)
        return StandbyStatus(
            active_url=self.url,
            active_node=known.active_node,
            response="no answer",
            inventory_generated_at=known.known_at,
            inventory_age_seconds=round(now - known.known_at, 3),
            in_step=oldest is None and not known.missing_repositories,
            lag_seconds=max(0.0, now - oldest) if oldest is not None else 0.0,
            missing_repositories=known.missing_repositories,
            missing_tags=known.missing_tags,
            mismatched_tags=known.mismatched_tags,
            missing_blobs=known.missing_blobs,
            oldest_missing_tag=first.name if first is not None else None,
            examples=tuple(f"{t.name} {t.why}" for t in known.lacking[:EXAMPLES]),
            local_dangling_references=dangling,
            divergent_tags=known.divergent_tags,
            divergent_repositories=known.divergent_repositories,
            divergent_examples=(),
            divergent_since=since,
            oldest_missing_push=oldest,
            answered_at=known.answered_at,
            known_at=known.known_at,
            lacking=tuple(t.name for t in known.lacking[:EXAMPLES]),
        )


def _refusal(url: str, resp: Response) -> str:
    if resp.status == 401:
        return f"active exporter {url} refused the request (401): set the same api_token on both"
    if resp.status == 304:
        return f"active exporter {url} answered 304 to a request without If-None-Match"
    return f"active exporter {url} answered HTTP {resp.status}" + (
        f": {text[:200]}" if (text := _error_text(resp)) else ""
    )


def _error_text(resp: Response) -> str:
    """The start of an error answer's body, unzipped if it came gzipped; "" if unreadable
    (the body only decorates the message)."""
    try:
        raw = resp.read(4096)
    except RequestFailed:
        return ""
    if resp.headers.get("Content-Encoding", "").strip().lower() == "gzip":
        try:
            raw = zlib.decompressobj(31).decompress(raw, 300)
        except zlib.error:
            return ""
    return raw[:300].decode("utf-8", "replace").strip()
