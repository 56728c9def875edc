"""What a sync would delete that tags the source keeps still reference (references.py), on
a real on-disk tree (bench/synthetic.py's, which the real registry serves) scanned by the
storage scanner, with deletions written as rsync's itemized dry run prints them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.synthetic import SIZES, generate
from registry_monitor.base import Deadline
from registry_monitor.storage.scan import Scanner
from registry_monitor.sync_guard import dry_run
from registry_monitor.sync_guard.dry_run import Removals, _Counter
from registry_monitor.sync_guard.references import NOTHING, Needed, needed

V2 = "docker/registry/v2/"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scanner]:
    data = tmp_path_factory.mktemp("data")
    generate(str(data), SIZES["tiny"])  # 4 repositories, 10 tags, 3 shared base layers
    scanner = Scanner(data, "reg-a2", "standby", 3600.0)
    scanner.scan(Deadline(60))
    return data / V2, scanner


def tag_of(v2: Path, repo: str, tag: str) -> tuple[str, Any]:
    link = v2 / "repositories" / repo / "_manifests/tags" / tag / "current/link"
    digest = link.read_text().removeprefix("sha256:")
    return digest, json.loads((v2 / "blobs/sha256" / digest[:2] / digest / "data").read_bytes())


def all_tags(v2: Path) -> list[tuple[str, str]]:
    root = v2 / "repositories"
    return sorted(
        (str(p.parents[4].relative_to(root)), p.parents[1].name)
        for p in root.glob("**/_manifests/tags/*/current/link")
    )


def blob_line(digest: str) -> str:
    return f"*deleting   {V2}blobs/sha256/{digest[:2]}/{digest}/data"


def tag_line(repo: str, tag: str, change: str = "*deleting  ") -> str:
    return f"{change} {V2}repositories/{repo}/_manifests/tags/{tag}/current/link"


def removals(*lines: str) -> Removals:
    counter = _Counter()
    for line in lines:
        counter.line(line)
    found = counter.removals()
    assert found is not None
    return found


def weigh(tree: tuple[Path, Scanner], *lines: str) -> Needed:
    return needed(tree[1].tree, removals(*lines), Deadline(10))


def test_a_shared_base_layer_deleted_is_needed_by_every_tag_built_on_it(
    tree: tuple[Path, Scanner],
) -> None:
    v2 = tree[0]
    _, manifest = tag_of(v2, "toolforge-image-00001", "latest")
    base = manifest["layers"][0]["digest"].removeprefix("sha256:")
    users = [
        t
        for t in all_tags(v2)
        if any(x["digest"] == f"sha256:{base}" for x in tag_of(v2, *t)[1]["layers"])
    ]
    found = weigh(tree, blob_line(base))
    assert (found.blobs, found.revisions, found.layers, found.tags) == (1, 0, 0, len(users))
    assert len(users) > 1
    assert found.examples == (f"{users[0][0]}:{users[0][1]} needs blob sha256:{base}",)


def test_a_revision_and_a_layers_link_deleted_under_a_kept_tag_are_needed(
    tree: tuple[Path, Scanner],
) -> None:
    v2 = tree[0]
    repo = "toolforge-image-00001"
    digest, manifest = tag_of(v2, repo, "latest")
    top = manifest["layers"][-1]["digest"].removeprefix("sha256:")
    found = weigh(
        tree,
        f"*deleting   {V2}repositories/{repo}/_manifests/revisions/sha256/{digest}/link",
        f"*deleting   {V2}repositories/{repo}/_layers/sha256/{top}/link",
    )
    assert (found.blobs, found.revisions, found.layers, found.tags) == (0, 1, 1, 1)
    assert found.examples == (
        f"{repo}:latest needs _layers link sha256:{top}",
        f"{repo}:latest needs manifest revision sha256:{digest}",
    )


def test_a_tag_deleted_with_what_only_it_referenced_needs_nothing(
    tree: tuple[Path, Scanner],
) -> None:
    # a tag deleted through the API, then a garbage collection: its manifest, config and
    # top layer go; the shared base layers stay
    v2 = tree[0]
    repo = "toolforge-image-00001"
    digest, manifest = tag_of(v2, repo, "latest")
    own = [digest, manifest["config"]["digest"], manifest["layers"][-1]["digest"]]
    lines = [tag_line(repo, "latest"), *(blob_line(d.removeprefix("sha256:")) for d in own)]
    lines.append(f"*deleting   {V2}repositories/{repo}/_manifests/revisions/sha256/{digest}/link")
    assert weigh(tree, *lines) == NOTHING


def test_a_tag_pushed_anew_lets_its_old_image_go(tree: tuple[Path, Scanner]) -> None:
    repo = "toolforge-image-00001"
    digest, _ = tag_of(tree[0], repo, "latest")
    rewritten = tag_line(repo, "latest", ">f..t......")
    assert weigh(tree, rewritten, blob_line(digest)) == NOTHING
    # the same blob deleted while the source keeps the tag as it is: needed
    assert weigh(tree, blob_line(digest)).blobs == 1


def test_only_content_deletions_are_weighed(tree: tuple[Path, Scanner]) -> None:
    assert not removals(tag_line("toolforge-image-00001", "latest")).any_content()
    assert weigh(tree) == NOTHING


def test_past_the_cap_deletions_are_not_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dry_run, "MAX_KEPT", 2)
    counter = _Counter()
    for n in range(3):
        counter.line(blob_line(f"{n:02d}" + "a" * 62))
    assert (counter.deleted_blobs, counter.removals()) == (3, None)
