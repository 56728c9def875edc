"""The look for pushes between full scans (Scanner.fresh): the last snapshot while no
repository, tag or manifest came or went, a scan as soon as one did. On a real registry,
pushes through its API."""

from __future__ import annotations

from pathlib import Path

from registry_monitor.base import Deadline
from registry_monitor.storage.scan import Scanner
from testbed.images import Pusher
from testbed.registry import Registry


def settled_scanner(data_dir: Path) -> Scanner:
    scanner = Scanner(data_dir, "node", "active", 86400)
    scanner.racy_ns = 0  # every time stamp trusted at once: the tests push right before
    scanner.scan(Deadline(30))
    return scanner


def tags(scanner: Scanner) -> set[str]:
    snapshot = scanner.fresh(Deadline(30))
    return {
        f"{repo}:{tag}"
        for repo, found in snapshot.inventory.repositories.items()
        for tag in found.tag_names()
    }


def test_the_last_snapshot_stands_while_nothing_is_pushed(registry: Registry) -> None:
    Pusher(registry.url).push_image("toolforge/python311", "latest")
    scanner = settled_scanner(registry.data_dir)
    first = scanner.fresh(Deadline(30))
    assert scanner.fresh(Deadline(30)) is first  # looked, found quiet: no scan


def test_each_kind_of_push_is_seen_by_the_next_look(registry: Registry) -> None:
    pusher = Pusher(registry.url)
    pusher.push_image("toolforge/python311", "latest")
    scanner = settled_scanner(registry.data_dir)
    assert tags(scanner) == {"toolforge/python311:latest"}
    pusher.push_image("toolforge/python311", "new-tag")  # a new tag and manifest
    assert tags(scanner) == {"toolforge/python311:latest", "toolforge/python311:new-tag"}
    pusher.push_image("brand/new-repository", "v1")  # a new repository under a new parent
    assert tags(scanner) == {
        "toolforge/python311:latest",
        "toolforge/python311:new-tag",
        "brand/new-repository:v1",
    }
    moved = pusher.push_image("toolforge/python311", "latest", layers=[b"moved"])
    repo = scanner.fresh(Deadline(30)).inventory.repositories["toolforge/python311"]
    assert "sha256:" + repo.digest(repo.tag_names().index("latest")).hex() == moved.digest
