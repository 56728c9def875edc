"""standby: how far behind the active this node is, in seconds of pushes (standby).

Fetches the active's inventory from its exporter (`/api/inventory`, with
If-None-Match, so an unchanged inventory costs a 304) and compares it with
this node's own scan, in which a tag only counts when its manifest and every
blob it needs are on disk. Lag is the recovery point: the age of the oldest
push on the active that this node lacks, i.e. how much a failover would lose
now. When the active cannot be asked, the probe fails: a lag is never guessed.

Clock skew between the nodes never enters the lag: every difference is taken
on one clock. The age of the oldest missing push when the active scanned is
`generated_at - mtime`, both on the active's clock; the inventory's age since
then is the HTTP `Age` the active sends (its clock) plus the time since the
response arrived (this node's monotonic clock).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from exporter.config import Config
from exporter.http import describe_error, make_session
from exporter.probes.reading import Deadline, ProbeFailed
from exporter.probes.write import CANARY_DIGEST
from exporter.storage.inventory import MEDIA_TYPE, Inventory, InventoryError, decode
from exporter.storage.layout import digest_key, parse_digest
from exporter.storage.scan import shared_scanner

EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class Comparison:
    missing_repositories: int = 0
    missing_tags: int = 0
    mismatched_tags: int = 0
    missing_blobs: int = 0
    oldest_change: float | None = None  # active's clock: mtime of the oldest lacking tag
    oldest_tag: str | None = None
    examples: tuple[str, ...] = ()


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

    def summary(self) -> str:
        if self.in_step:
            text = f"in step with {self.active_node}"
        else:
            text = (
                f"lag {self.lag_seconds:.0f}s behind {self.active_node}: "
                f"{self.missing_tags} tags missing, {self.mismatched_tags} mismatched, "
                f"{self.missing_repositories} repositories missing"
            )
        if self.missing_blobs:
            text += f", {self.missing_blobs} blobs missing"
        if self.local_dangling_references:
            text += f", {self.local_dangling_references} DANGLING references here"
        return text


def compare(active: Inventory, local: Inventory, canary: str) -> Comparison:
    """What `local` lacks of `active` (the canary repository is monitoring, not data)."""
    missing_repos = missing = mismatched = 0
    oldest: float | None = None
    oldest_tag: str | None = None
    examples: list[str] = []

    def lacking(repo: str, tag: str, mtime: float, what: str) -> None:
        nonlocal oldest, oldest_tag
        if oldest is None or mtime < oldest:
            oldest, oldest_tag = mtime, f"{repo}:{tag}"
        if len(examples) < EXAMPLES:
            examples.append(f"{repo}:{tag} {what}")

    for repo, theirs in active.repositories.items():
        if repo == canary:
            continue
        mine = local.repositories.get(repo)
        if mine is None:
            missing_repos += 1
        elif mine.names == theirs.names and mine.digests == theirs.digests:
            continue  # the usual case: in step
        where = {t: i for i, t in enumerate(mine.tag_names())} if mine is not None else {}
        for i, tag in enumerate(theirs.tag_names()):
            j = where.get(tag)
            if j is None:
                missing += 1
                lacking(repo, tag, theirs.mtimes[i], "missing")
            elif mine is not None and mine.digest(j) != theirs.digest(i):
                mismatched += 1
                lacking(repo, tag, theirs.mtimes[i], "points to another manifest")
    canary_blob = frozenset({digest_key(parse_digest(CANARY_DIGEST))})
    return Comparison(
        missing_repositories=missing_repos,
        missing_tags=missing,
        mismatched_tags=mismatched,
        missing_blobs=active.blobs.count_missing_from(local.blobs, ignore=canary_blob),
        oldest_change=oldest,
        oldest_tag=oldest_tag,
        examples=tuple(examples),
    )


def lag_seconds(active: Inventory, oldest_change: float | None, age: float) -> float:
    """Age now of the oldest change the standby lacks; 0 when it lacks none."""
    if oldest_change is None:
        return 0.0
    return max(0.0, active.generated_at - oldest_change) + max(0.0, age)


def _age_header(value: str | None) -> float | None:
    return float(value) if value is not None and value.strip().isdigit() else None


class StandbyProbe:
    name = "standby"

    def __init__(self, config: Config) -> None:
        if config.active_exporter_url is None:
            self.url = None
        else:
            self.url = f"{config.active_exporter_url}/api/inventory"
        self.token = config.api_token
        self.node = config.node
        self.canary = config.write_canary_repository
        self.max_bytes = config.inventory_max_bytes
        self.session = make_session(config.ca_file)
        self.scanner = shared_scanner(
            config.data_dir, config.node, config.role, config.stale_upload_seconds
        )
        self.inventory: Inventory | None = None  # the active's, as last fetched
        self.etag: str | None = None

    def _fetch(self, url: str, deadline: Deadline) -> tuple[Inventory, str, float]:
        """(the active's inventory, how it came, its age now in seconds)."""
        headers = {"Accept": MEDIA_TYPE, "Accept-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.inventory is not None and self.etag:
            headers["If-None-Match"] = self.etag
        try:
            resp = self.session.get(
                url,
                headers=headers,
                stream=True,
                timeout=deadline.io_timeout(10),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise ProbeFailed(f"active exporter {url} unreachable: {describe_error(exc)}") from None
        arrived = time.monotonic()
        with resp:
            age = _age_header(resp.headers.get("Age"))
            if resp.status_code == 304 and self.inventory is not None:
                inventory, how = self.inventory, "304 not modified"
            elif resp.status_code == 200:
                inventory, how = self._read(resp, deadline), "200"
                self.inventory, self.etag = inventory, resp.headers.get("ETag")
            else:
                raise ProbeFailed(_refusal(url, resp))
        if age is None:  # not our exporter's answer: the best bound there is
            age = max(0.0, time.time() - inventory.generated_at)
        return inventory, how, age + (time.monotonic() - arrived)

    def _read(self, resp: requests.Response, deadline: Deadline) -> Inventory:
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("gzip", "identity"):
            raise ProbeFailed(f"active's inventory came with Content-Encoding {encoding!r}")

        def chunks() -> Iterator[bytes]:
            for chunk in resp.raw.stream(65536, decode_content=False):
                if deadline.expired():
                    raise ProbeFailed("active's inventory still arriving at the deadline")
                yield chunk

        try:
            return decode(chunks(), gzipped=encoding == "gzip", max_bytes=self.max_bytes)
        except InventoryError as exc:
            raise ProbeFailed(f"active's inventory rejected: {exc}") from None
        except requests.RequestException as exc:
            raise ProbeFailed(f"reading the active's inventory: {describe_error(exc)}") from None

    def __call__(self, deadline: Deadline) -> StandbyStatus:
        if self.url is None:
            raise ProbeFailed("active_exporter_url is not set: nothing to compare with")
        active, how, age = self._fetch(self.url, deadline)
        if active.role != "active":
            raise ProbeFailed(
                f"{self.url} is node {active.node} with role {active.role}, not the active"
            )
        if active.node == self.node:
            raise ProbeFailed(f"{self.url} is this node ({self.node}) itself")
        local = self.scanner.scan(deadline)  # incremental: cheap, and never stale
        found = compare(active, local.inventory, self.canary)
        lag = lag_seconds(active, found.oldest_change, age)
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
        )


def _refusal(url: str, resp: requests.Response) -> str:
    if resp.status_code == 401:
        return f"active exporter {url} refused the request (401): set the same api_token on both"
    if resp.status_code == 304:
        return f"active exporter {url} answered 304 to a request without If-None-Match"
    text = ""
    with contextlib.suppress(Exception):  # the body only decorates the message
        text = resp.raw.read(300, decode_content=True).decode("utf-8", "replace").strip()
    return f"active exporter {url} answered HTTP {resp.status_code}" + (
        f": {text[:200]}" if text else ""
    )
