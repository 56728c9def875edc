"""What judging a reading produces: a state, a summary, one line per item, perfdata.

The immutable records are NamedTuples and the builder a plain class, not
dataclasses: check_registry builds these classes on every run, and a dataclass
costs about ten times as much (and the dataclasses module itself more).
"""

from __future__ import annotations

from typing import NamedTuple

from registry_monitor.judging.perfdata import Perf
from registry_monitor.judging.ranges import Range, Threshold
from registry_monitor.judging.state import SEVERITY, State, worst


class UsageError(Exception):
    """Bad arguments or thresholds: UNKNOWN, with this message as the reason."""


class Options(NamedTuple):
    """The command line's threshold options, for the probe's verdict module to map."""

    warning: str | None = None
    critical: str | None = None
    inode_warning: str | None = None
    inode_critical: str | None = None
    unit: str | None = None


class Item(NamedTuple):
    state: State
    text: str
    detail: bool = False  # names an example of the item before it; carries no state


class Verdict(NamedTuple):
    probe: str
    state: State
    summary: str
    items: tuple[Item, ...] = ()
    perfdata: tuple[Perf, ...] = ()

    def problems(self) -> list[Item]:
        """Non-OK items, worst first (stable within a state)."""
        bad = [i for i in self.items if i.state is not State.OK and not i.detail]
        return sorted(bad, key=lambda i: -SEVERITY[i.state])


class VerdictBuilder:
    """Collects items and perfdata while a verdict module walks a reading (a plain
    class: filled in place, never compared or printed)."""

    __slots__ = ("items", "perfdata", "probe")

    def __init__(
        self, probe: str, items: list[Item] | None = None, perfdata: list[Perf] | None = None
    ) -> None:
        self.probe = probe
        self.items: list[Item] = [] if items is None else items
        self.perfdata: list[Perf] = [] if perfdata is None else perfdata

    def add(self, state: State, text: str) -> State:
        self.items.append(Item(state, text))
        return state

    def detail(self, text: str) -> None:
        """A line of long output under the item before it (an example), without a state."""
        self.items.append(Item(State.OK, text, detail=True))

    def perf(
        self,
        label: str,
        value: float | None,
        uom: str = "",
        threshold: Threshold | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        *,
        warning: Range | None = None,
        critical: Range | None = None,
    ) -> None:
        """One perfdata item; a value that was not measured is left out, not faked."""
        if value is None:
            return
        if threshold is not None:
            warning, critical = threshold.warning, threshold.critical
        self.perfdata.append(Perf(label, value, uom, warning, critical, minimum, maximum))

    def verdict(self, ok_summary: str) -> Verdict:
        state = worst(i.state for i in self.items)
        draft = Verdict(self.probe, state, ok_summary, tuple(self.items), tuple(self.perfdata))
        problems = draft.problems()
        if not problems:
            return draft
        summary = "; ".join(i.text for i in problems)
        return Verdict(self.probe, state, summary, draft.items, draft.perfdata)


def unknown(probe: str, reason: str) -> Verdict:
    return Verdict(probe, State.UNKNOWN, reason, (Item(State.UNKNOWN, reason),))
