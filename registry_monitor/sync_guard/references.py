"""Would the sync delete something that a tag the source still holds needs?

The dry run (dry_run.py) names what the run would delete here: blob data, manifest
revision links, `_layers` links, tag links, and the tag links it would rewrite (the
source's tag moved). A tag the run neither deletes nor rewrites is one the source
holds as this node does, pointing at the same manifest. If the run would delete that
manifest's blob, a blob it references (an index's children included), its revision
link or a `_layers` link to one of its blobs in the tag's repository, then the source
lacks a piece of an image it still serves: its content is damaged (a blob deleted by
hand, a disk error), and the sync would copy the damage here, deleting the only
intact copy.

The normal deletions stay out of it: a tag deleted through the API goes with its
link, and a garbage collection then deletes only what no remaining tag references; a
tag pushed anew is rewritten, so what its old manifest needed may go.

Read from this node's last scan (registry_monitor/storage/): its tags, and the
references of every manifest it holds, parsed once. Only run when the dry run deletes
content; each tag's manifests are walked, nothing is kept between tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.storage.layout import digest_key
from registry_monitor.storage.manifests import ManifestCache
from registry_monitor.storage.walk import MAX_INDEX_DEPTH, Tree
from registry_monitor.sync_guard.dry_run import Removals

EXAMPLES = 3
CHECK_EVERY = 512  # tags between two looks at the deadline
LABELS = {"blob": "blob", "revision": "manifest revision", "_layers": "_layers link"}


@dataclass(frozen=True, slots=True)
class Needed:
    """What the run would delete that tags the source keeps still reference."""

    blobs: int  # blob data files
    revisions: int  # manifest revision links
    layers: int  # `_layers` links
    tags: int  # the tags that reference them
    examples: tuple[str, ...]  # "repo:tag needs <what> sha256:<hex>", one a deletion

    @property
    def total(self) -> int:
        return self.blobs + self.revisions + self.layers


NOTHING = Needed(0, 0, 0, 0, ())


def _closure(cache: ManifestCache, key: int) -> tuple[set[int], set[int]]:
    """(manifest keys, blob reference keys) of a manifest and, for an index, its children.
    Not memoised: most manifests are one tag's, and a memo of every manifest's sets
    would hold as much again as the scan (11 MiB at the Toolforge size)."""
    manifests: set[int] = set()
    refs: set[int] = set()
    todo = [(key, 0)]
    while todo:
        key, depth = todo.pop()
        if key in manifests:
            continue  # a cycle of indexes (a tree written by hand) ends here
        manifests.add(key)
        i = cache.index(key)
        entry = cache.entry(i) if i >= 0 else "not read"
        if isinstance(entry, str):
            continue
        refs.update(entry[0])
        if depth < MAX_INDEX_DEPTH:
            todo.extend((digest_key(child), depth + 1) for child in entry[1])
    return manifests, refs


def needed(tree: Tree, removals: Removals, deadline: Deadline) -> Needed:
    """Count the run's deletions that tags the source keeps reference (the scan's tree,
    as its last scan left it: the caller holds it still)."""
    if not removals.any_content():
        return NOTHING
    # what each kind of deletion is, as ("", key) for a blob (the whole store's) and
    # (repository, key) for a link
    found: dict[str, set[tuple[str, int]]] = {"blob": set(), "revision": set(), "_layers": set()}
    tags = seen = 0
    examples: list[str] = []
    for name, repo in tree.repos.items():
        if not repo.is_repository or not repo.tag_names:
            continue
        revs = removals.revisions.get(name, {})
        links = removals.layers.get(name, {})
        for i, tag in enumerate(repo.tag_names.split("\n")):
            seen += 1
            if seen % CHECK_EVERY == 0 and deadline.expired():
                raise ProbeFailed(f"still weighing tags at the deadline ({seen} weighed)")
            if (name, tag) in removals.tags or (repo.tag_errors and i in repo.tag_errors):
                continue
            manifests, refs = _closure(tree.manifests, digest_key(repo.tag_digest(i)))
            hit = [
                ("blob", "", k, removals.blobs[k]) for k in manifests | refs if k in removals.blobs
            ]
            hit += [("revision", name, k, revs[k]) for k in manifests if k in revs]
            hit += [("_layers", name, k, links[k]) for k in refs if k in links]
            if not hit:
                continue
            tags += 1
            for kind, where, key, digest in sorted(hit):
                if (where, key) in found[kind]:
                    continue
                found[kind].add((where, key))
                if len(examples) < EXAMPLES:  # each deletion once, by the first tag needing it
                    examples.append(f"{name}:{tag} needs {LABELS[kind]} sha256:{digest}")
    blobs, revisions, layers = (len(found[k]) for k in ("blob", "revision", "_layers"))
    return Needed(blobs, revisions, layers, tags, tuple(examples))
