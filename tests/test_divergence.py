"""What counts as pushed to the standby: push times against the last sync's start."""

from __future__ import annotations

from array import array

import pytest

from registry_monitor.probes.divergence import (
    NEWER_HERE,
    ONLY_HERE,
    DivergenceFinder,
    Divergent,
    DivergentTag,
)
from registry_monitor.storage.inventory import DigestSet, Inventory, RepoTags

SYNC = 1_000_000.0  # the last successful sync began here (whole seconds, as systemd says)
CANARY = "registry-monitor-canary"


def tags(**pushed: tuple[str, float]) -> RepoTags:
    """tag=(digest letter, push time), sorted by tag name as the inventory keeps them."""
    names = sorted(pushed)
    return RepoTags(
        "\n".join(names),
        b"".join(pushed[n][0].encode() * 32 for n in names),
        array("d", [pushed[n][1] for n in names]),
    )


def local(**repos: RepoTags) -> Inventory:
    named = {name.replace("__", "/"): t for name, t in sorted(repos.items())}
    return Inventory("standby", "standby", SYNC + 100, named, DigestSet.empty(), "etag")


def find(mine: Inventory, theirs: dict[str, RepoTags], since: float | None = SYNC) -> Divergent:
    finder = DivergenceFinder(mine, CANARY, since)
    for repo, t in sorted(theirs.items()):
        finder.repository(repo, mine.repositories.get(repo), t)
    return finder.result()


def test_pending_deletion_is_not_divergent_but_a_push_after_the_sync_is() -> None:
    mine = local(
        app=tags(old=("a", SYNC - 500), deleted=("b", SYNC - 10), pushed=("c", SYNC + 30)),
    )
    theirs = {"app": tags(old=("a", SYNC - 500))}
    result = find(mine, theirs)
    assert result.tags == 1 and result.repositories == 0
    assert result.examples == (DivergentTag("app", "pushed", SYNC + 30, ONLY_HERE),)


@pytest.mark.parametrize(("pushed", "counted"), [(SYNC + 0.9, 0), (SYNC + 1.0, 1)])
def test_a_push_in_the_second_the_sync_began_may_be_older(pushed: float, counted: int) -> None:
    result = find(local(app=tags(t=("c", pushed))), {"app": tags()})
    assert result.tags == counted


def test_a_moved_tag_counts_only_when_the_copy_here_is_newer() -> None:
    mine = local(app=tags(newer=("x", SYNC + 60), older=("y", SYNC - 60)))
    theirs = {"app": tags(newer=("a", SYNC - 300), older=("b", SYNC + 10))}
    result = find(mine, theirs)
    assert result.examples == (DivergentTag("app", "newer", SYNC + 60, NEWER_HERE),)


def test_repositories_only_here_and_the_canary() -> None:
    mine = local(
        app=tags(t=("a", SYNC - 1)),
        hotfix=tags(v1=("h", SYNC + 5), v2=("i", SYNC + 6)),
        stale=tags(v=("s", SYNC - 90)),  # deleted on the active, pending
        **{CANARY.replace("/", "__"): tags(probe=("k", SYNC + 50))},
    )
    result = find(mine, {"app": tags(t=("a", SYNC - 1))})
    assert (result.tags, result.repositories) == (2, 1)
    assert [str(e) for e in result.examples] == [
        "hotfix:v1 only on this node",
        "hotfix:v2 only on this node",
    ]


def test_with_no_sync_known_everything_only_here_counts() -> None:
    mine = local(stale=tags(v=("s", SYNC - 90)))
    result = find(mine, {}, since=None)
    assert (result.tags, result.repositories) == (1, 1)


def test_at_most_ten_named() -> None:
    many = tags(**{f"t{i:02}": ("c", SYNC + 10 + i) for i in range(25)})
    result = find(local(app=many), {"app": tags()})
    assert result.tags == 25 and len(result.examples) == 10
    assert result.examples[0].tag == "t00" and result.examples[-1].tag == "t09"
