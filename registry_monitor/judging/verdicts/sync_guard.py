"""sync-guard: may the sync run now? (not a probe: the guard the sync unit runs first)

OK when the run may go ahead (its exit code 0 lets the unit start rsync),
naming what was not measured; CRITICAL naming each reason it is refused for,
with the override; UNKNOWN when it is refused only because something could
not be measured (`sync_guard.when_unknown: refuse`). A run let through by an
operator's exemption is OK and still names every reason it overrode.
"""

from __future__ import annotations

from registry_monitor.judging.perfdata import Perf
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Item, Verdict
from registry_monitor.sync_guard.decision import OVERRIDE, Decision


def headline(d: Decision) -> str:
    reasons = ", ".join(dict.fromkeys(r.reason for r in d.refusals))
    if d.exempted and d.exemption is not None:
        return f"sync allowed once by exemption {d.exemption.describe()}, overriding {reasons}"
    if not d.allowed:
        details = "; ".join(f"{r.reason}: {r.detail}" for r in d.refusals)
        return f"sync REFUSED: {details} (override once: {OVERRIDE})"
    text = "sync allowed"
    if d.deleted_tags is not None and d.local_tags is not None:
        text += f": it deletes {d.deleted_tags} of {d.local_tags} tags, "
        text += f"{d.deleted_blobs} of {d.local_blobs} blobs here"
    if d.unmeasured:
        text += "; not measured: " + "; ".join(d.unmeasured)
    return text


def judge_guard(d: Decision) -> Verdict:
    refused = State.OK if d.allowed else State.CRITICAL
    if not d.allowed and all(r.reason == "not_measured" for r in d.refusals):
        refused = State.UNKNOWN
    items = [Item(refused, f"{r.reason}: {r.detail}") for r in d.refusals]
    if d.exempted and d.exemption is not None:
        items.append(Item(State.OK, f"let through once by exemption {d.exemption.describe()}"))
    items += [Item(State.OK, f"not measured: {u}") for u in d.unmeasured]
    items += [Item(State.OK, figure) for figure in d.figures]
    perf = [Perf("refusals", 0 if d.allowed else len(d.refusals), "", None, None, 0, None)]
    for label, value in (
        ("deleted_tags", d.deleted_tags),
        ("deleted_blobs", d.deleted_blobs),
        ("local_tags", d.local_tags),
        ("local_blobs", d.local_blobs),
        ("divergent_tags", d.divergent_tags),
        ("missing_referenced", d.missing_referenced),
    ):
        if value is not None:
            perf.append(Perf(label, value, "", None, None, 0, None))
    return Verdict("sync-guard", refused, headline(d), tuple(items), tuple(perf))
