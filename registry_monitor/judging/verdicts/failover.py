"""failover: could this standby become the active now? (not a probe: a judgement over several)

OK with what a failover now would lose, or CRITICAL naming each blocker. When
the active does not answer, the answer is judged from what it said last: the
loss known then and since when (WARNING: what was pushed since is unknown),
while what can be measured here still blocks.
The long output (-v) lists the tags that would be lost (from the standby
comparison's examples), what is worth knowing but does not block, and the
checklist's steps that remain.
"""

from __future__ import annotations

from registry_monitor.judging.perfdata import Perf
from registry_monitor.judging.ranges import floor
from registry_monitor.judging.readiness import REASONS, Readiness, headline
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Item, Verdict
from registry_monitor.times import when

READY = floor(1)


def readiness_verdict(r: Readiness) -> Verdict:
    """`check_registry failover`'s verdict on the readiness assess_readiness() found."""
    items: list[Item] = [Item(State.CRITICAL, f"{b.reason}: {b.detail}") for b in r.blockers]
    if r.lost_tags is not None:
        since = f", the oldest pushed at {when(r.oldest_lost_push)}" if r.oldest_lost_push else ""
        items.append(Item(State.OK, f"a failover now loses {r.lost_tags} tags{since}"))
        items += [Item(State.OK, f"lost: {example}", detail=True) for example in r.lost_examples]
        if r.lost_tags > len(r.lost_examples):
            more = r.lost_tags - len(r.lost_examples)
            items.append(Item(State.OK, f"and {more} more", detail=True))
    items += [Item(State.OK, f"note: {note}") for note in r.notes]
    items += [Item(State.OK, f"remaining: {step}") for step in r.remaining]
    perf = [Perf("ready", int(r.ready), "", None, READY, 0, 1)]
    perf.append(Perf("blockers", len(r.blockers), "", None, None, 0, len(REASONS)))
    if r.lost_tags is not None:
        perf.append(Perf("lost_tags", r.lost_tags, "", None, None, 0, None))
    if r.lag_seconds is not None:
        perf.append(Perf("lag", round(r.lag_seconds), "s", None, None, 0, None))
    state = State.CRITICAL if not r.ready else State.WARNING if r.active_gone else State.OK
    return Verdict("failover", state, headline(r), tuple(items), tuple(perf))
