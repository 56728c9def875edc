"""Content only the standby has: pushes that landed here and that the next sync erases.

The sync is `rsync --delete -a` from the active, so whatever the active does
not have is deleted on the standby at the next run, and a tag the active has
elsewhere is overwritten. Two kinds of such content are normal and are told
apart from pushes by the tag's push time (its `current/link` mtime) against
the start of the last successful sync (the sync probe's state):

- a tag the active deleted since the last sync (a pending deletion): rsync -a
  kept the active's push time, which is older than that sync's start (the
  sync that copied it began after it was pushed);
- the write probe's canary repository: monitoring, not data.

A tag here that the active lacks is divergent when it was pushed after the
start of the last successful sync (systemd gives it to the second: a push in
that same second counts as before): that sync would have deleted anything
that was here before it began, so it landed here since, by a push to this
node. A tag the active has pointing at another manifest is divergent when the
copy here is the newer push. The push times of this node's own pushes are on
this node's clock, like the sync's start, so skew between the nodes cannot
hide them. With no successful sync known, nothing can be shown to be a pending
deletion, and everything only here counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_monitor.storage.inventory import Inventory, RepoTags

EXAMPLES = 10
ONLY_HERE = "only on this node"
NEWER_HERE = "newer here than the active's"


@dataclass(frozen=True, slots=True)
class DivergentTag:
    repository: str
    tag: str
    pushed_at: float  # this node's clock: the tag link's mtime
    why: str  # ONLY_HERE or NEWER_HERE

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag} {self.why}"


@dataclass(frozen=True, slots=True)
class Divergent:
    tags: int = 0
    repositories: int = 0  # repositories the active does not have, with divergent tags
    examples: tuple[DivergentTag, ...] = ()


class DivergenceFinder:
    """Fed each repository of the active's inventory in turn, then `result()` adds the
    repositories the active does not have at all."""

    def __init__(self, local: Inventory, canary: str, since: float | None) -> None:
        self.local = local
        self.canary = canary
        self.since = since  # start of the last successful sync; None: none known
        self.seen: set[str] = set()
        self.tags = self.repositories = 0
        self.examples: list[DivergentTag] = []

    def _after_sync(self, mtime: float) -> bool:
        # systemd gives the start to the second: within that second, the push may be older
        return self.since is None or mtime >= self.since + 1.0

    def _count(self, repo: str, tag: str, mtime: float, why: str) -> None:
        self.tags += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(DivergentTag(repo, tag, mtime, why))

    def repository(self, repo: str, mine: RepoTags | None, theirs: RepoTags) -> None:
        """A repository the active has; `mine` is this node's, if any (the same name)."""
        self.seen.add(repo)
        if mine is None or repo == self.canary:
            return
        if mine.names == theirs.names and mine.digests == theirs.digests:
            return
        where = {t: i for i, t in enumerate(theirs.tag_names())}
        for j, tag in enumerate(mine.tag_names()):
            i = where.get(tag)
            mtime = mine.mtimes[j]
            if i is None:
                if self._after_sync(mtime):
                    self._count(repo, tag, mtime, ONLY_HERE)
            elif mine.digest(j) != theirs.digest(i) and mtime > theirs.mtimes[i]:
                self._count(repo, tag, mtime, NEWER_HERE)

    def result(self) -> Divergent:
        for repo, mine in self.local.repositories.items():
            if repo in self.seen or repo == self.canary:
                continue
            before = self.tags
            for j, tag in enumerate(mine.tag_names()):
                if self._after_sync(mine.mtimes[j]):
                    self._count(repo, tag, mine.mtimes[j], ONLY_HERE)
            if self.tags > before:
                self.repositories += 1
        return Divergent(self.tags, self.repositories, tuple(self.examples))
