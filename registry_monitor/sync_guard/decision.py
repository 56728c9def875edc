"""Should this sync run? One judgement over the guard's facts (measure.py).

A run is refused, each reason named, when it would erase what exists nowhere else:

- `role_active`: this node's config says it is the active; a sync here pulls from
  the other node and erases this node's pushes;
- `this_node_is_public`: the public name points here, so users push here;
- `source_shrunk`: the run would delete more than `sync_guard.max_delete_percent`
  of this node's tags or blobs, or the source holds no repositories at all while
  this node holds some (the active's data volume not mounted: docker-registry and
  the rsync daemon serve the empty mount point);
- `divergent_content`: this node holds pushes the active lacks (the standby
  probe's divergence: pushed here since the last successful sync began);
- `source_missing_referenced`: the run would delete a blob, a manifest revision or a
  `_layers` link that a tag the source still holds references (references.py): the
  source's content is damaged (a blob deleted by hand), and the sync would spread the
  damage, deleting this node's intact copy. However few: one blob is far under
  `max_delete_percent`, and it is an image lost on both nodes;
- `not_measured`: something could not be measured and `sync_guard.when_unknown`
  is `refuse`. With the default, `allow`, a dead exporter does not stop syncs:
  the run goes ahead and the answer says what was not measured. Note that a dry
  run that fails because the source fails means the real run fails the same way,
  erasing nothing.

An operator's one-run exemption (record.py) lets a refused run through once; the
answer still names every reason it would have been refused for.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_monitor.config import SyncGuard
from registry_monitor.sync_guard.measure import GuardFacts
from registry_monitor.sync_guard.record import Exemption

# Every reason a run can be refused for: the `reason` label's values.
REASONS = (
    "role_active",
    "this_node_is_public",
    "source_shrunk",
    "divergent_content",
    "source_missing_referenced",
    "not_measured",
)
OVERRIDE = "check_registry sync-guard --allow-once REASON"


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # one of REASONS
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    refusals: tuple[Refusal, ...]  # what refuses the run (an exemption may let it through)
    unmeasured: tuple[str, ...]  # "what: why", for each fact that could not be measured
    figures: tuple[str, ...]  # what was measured, one line each
    exemption: Exemption | None  # the operator's, consumed by this run
    deleted_tags: int | None = None
    deleted_blobs: int | None = None
    local_tags: int | None = None
    local_blobs: int | None = None
    divergent_tags: int | None = None
    missing_referenced: int | None = None  # deletions that tags the source keeps need

    @property
    def exempted(self) -> bool:
        return bool(self.refusals) and self.allowed


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else (100.0 if part else 0.0)


class _Judging:
    def __init__(self, facts: GuardFacts, settings: SyncGuard) -> None:
        self.facts = facts
        self.settings = settings
        self.refusals: list[Refusal] = []
        self.unmeasured: list[str] = []
        self.figures: list[str] = []
        self.numbers: dict[str, int | None] = {}

    def refuse(self, reason: str, detail: str) -> None:
        self.refusals.append(Refusal(reason, detail))

    def public(self) -> None:
        reading = self.facts.public
        if reading is None:
            self.figures.append("where the public name points is not judged: no public_addresses")
        elif reading.value is None or reading.error is not None:
            self.unmeasured.append(f"where the public name points: {reading.error}")
        elif reading.value.points_here:
            self.refuse(
                "this_node_is_public",
                f"{reading.value.summary()}: users push to this node, and a sync would "
                "erase their pushes",
            )
        else:
            self.figures.append(f"public name: {reading.value.summary()}")

    def shrink(self) -> None:
        run, local = self.facts.dry_run, self.facts.local
        if run is None or run.value is None or run.error is not None:
            why = run.error if run is not None else "not run"
            self.unmeasured.append(f"what the sync would delete (rsync --dry-run): {why}")
            return
        d = run.value
        self.numbers.update(deleted_tags=d.deleted_tags, deleted_blobs=d.deleted_blobs)
        if local is None or local.value is None or local.error is not None:
            if d.deleted_tags or d.deleted_blobs or d.deleted_repositories:
                why = local.error if local is not None else "not run"
                self.unmeasured.append(
                    f"this node's content, to weigh {d.deleted_tags} tags and "
                    f"{d.deleted_blobs} blobs the sync would delete: {why}"
                )
            return
        mine = local.value
        self.numbers.update(local_tags=mine.tags, local_blobs=mine.blobs)
        self.figures.append(
            f"the sync would delete {d.deleted_tags} of {mine.tags} tags, {d.deleted_blobs} "
            f"of {mine.blobs} blobs and {d.deleted_repositories} of {mine.repositories} "
            f"repositories here, and add {d.added_tags} tags (rsync --dry-run from {d.source})"
        )
        source_repositories = mine.repositories - d.deleted_repositories + d.added_repositories
        if source_repositories <= 0 and mine.repositories > 0:
            self.refuse(
                "source_shrunk",
                f"the source {d.source} holds no repositories: the sync would erase all "
                f"{mine.repositories} repositories, {mine.tags} tags and {mine.blobs} blobs "
                "here (is the active's data volume mounted?)",
            )
            return
        limit = self.settings.max_delete_percent
        for what, part, whole in (
            ("tags", d.deleted_tags, mine.tags),
            ("blobs", d.deleted_blobs, mine.blobs),
        ):
            share = _percent(part, whole)
            if share > limit:
                examples = f" (e.g. {', '.join(d.deleted_examples[:3])})" if what == "tags" else ""
                self.refuse(
                    "source_shrunk",
                    f"the sync would delete {part} of this node's {whole} {what} "
                    f"({share:.1f}%, more than sync_guard.max_delete_percent {limit:g}%)"
                    f"{examples}",
                )

    def damage(self) -> None:
        reading = self.facts.needed
        if reading is None:
            return  # the dry run or this node's scan failed: shrink() names it
        if reading.value is None or reading.error is not None:
            self.unmeasured.append(
                f"whether the sync deletes what the source's tags reference: {reading.error}"
            )
            return
        n = reading.value
        self.numbers["missing_referenced"] = n.total
        if not n.total:
            return
        parts = [
            f"{count} {what}"
            for count, what in (
                (n.blobs, "blob(s)"),
                (n.revisions, "manifest revision link(s)"),
                (n.layers, "_layers link(s)"),
            )
            if count
        ]
        self.refuse(
            "source_missing_referenced",
            f"the source lacks {' and '.join(parts)} that {n.tags} tag(s) it still holds "
            f"reference ({'; '.join(n.examples)}): its content is damaged, and the sync "
            "would delete this node's intact copy",
        )

    def divergence(self) -> None:
        reading = self.facts.divergence
        if reading is None or reading.value is None or reading.error is not None:
            why = reading.error if reading is not None else "not run"
            self.unmeasured.append(f"pushes held only here (the active's inventory): {why}")
            return
        s = reading.value
        self.numbers["divergent_tags"] = s.divergent_tags
        if s.divergent_tags:
            examples = ", ".join(str(t) for t in s.divergent_examples[:3])
            self.refuse(
                "divergent_content",
                f"{s.divergent_tags} tags in {s.divergent_repositories} repositories only here "
                f"were pushed to this node since the last sync began ({examples}): the sync "
                "would erase them",
            )
        else:
            self.figures.append(f"no pushes held only here (compared with {s.active_node})")


def decide(facts: GuardFacts, settings: SyncGuard, exemption: Exemption | None) -> Decision:
    j = _Judging(facts, settings)
    if facts.role == "active":
        j.refuse(
            "role_active",
            f"this node ({facts.node}) has role active: a sync here pulls from the other "
            "node and erases this node's pushes",
        )
    else:
        j.public()
        j.shrink()
        j.damage()
        j.divergence()
        if j.unmeasured and not j.refusals and settings.when_unknown == "refuse":
            j.refuse(
                "not_measured",
                "sync_guard.when_unknown is refuse, and "
                + "; ".join(j.unmeasured[:1])
                + (f" (and {len(j.unmeasured) - 1} more)" if len(j.unmeasured) > 1 else ""),
            )
    return Decision(
        allowed=not j.refusals or exemption is not None,
        refusals=tuple(j.refusals),
        unmeasured=tuple(j.unmeasured),
        figures=tuple(j.figures),
        exemption=exemption,
        **j.numbers,
    )
