"""Monitoring Plugins threshold ranges: `10`, `10:`, `~:10`, `10:20`, `@10:20`.

A range *alerts* when the value lies outside start..end (both ends
inclusive), or inside it when the range starts with `@`. A bare end means
start 0; an omitted end is +infinity; `~` as start is -infinity.

The grammar is held strictly (ASCII decimals only, no ':10'), and the
matching is two comparisons. nagiosplugin, which this once used for the
bounds, is not a dependency any more: its parser needed this stricter one in
front anyway (it hands atoms to int()/float(), which accept ' 5', '1_0',
non-ASCII digits and 'nan.'), and importing it cost check_registry about
10 ms of start-up on every run (json, tempfile, random, bz2, lzma...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from registry_monitor.judgement.numerals import numeral
from registry_monitor.judgement.state import State

_NUMERAL = r"-?[0-9]+(?:\.[0-9]+)?"
_RANGE = re.compile(rf"(?P<invert>@)?(?:(?P<start>~|{_NUMERAL}):)?(?P<end>{_NUMERAL})?")
_BARE = re.compile(_NUMERAL)

EXAMPLES = "e.g. 10, 10:, ~:10, 10:20, @10:20"


class RangeError(ValueError):
    """A threshold that is not a valid range; the message says why."""


@dataclass(frozen=True)
class Range:
    spec: str  # the validated text
    invert: bool
    start: float  # as written: an int when written without a point
    end: float

    def alerts(self, value: float) -> bool:
        """True when value exceeds the threshold."""
        return (self.start <= value <= self.end) == self.invert

    def explain(self, value: float) -> str:
        """Why value alerts: '> 80', '< 7', 'within 10..20'."""
        if self.invert:
            return f"within {_bound(self.start)}..{_bound(self.end)}"
        return f"< {_bound(self.start)}" if value < self.start else f"> {_bound(self.end)}"

    def __str__(self) -> str:
        """Canonical text, as perfdata carries it: start 0 omitted, no exponents."""
        text = "@" if self.invert else ""
        if self.start == -math.inf:
            text += "~:"
        elif self.start != 0 or self.end == math.inf:
            text += f"{numeral(self.start)}:"
        if self.end != math.inf:
            text += numeral(self.end)
        return text


def _bound(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else numeral(value)


def parse_range(text: str) -> Range:
    match = _RANGE.fullmatch(text)
    if match is None or not (match["start"] or match["end"]):
        raise RangeError(f"{text!r} is not a range ([@][START:][END], {EXAMPLES})")
    start: float = -math.inf if match["start"] == "~" else _atom(match["start"], 0)
    end = _atom(match["end"], math.inf)
    if start > end:
        raise RangeError(
            f"{text!r} is not a range: start {match['start'] or 0} is greater than end "
            f"{match['end']}"
        )
    return Range(text, bool(match["invert"]), start, end)


def _atom(text: str | None, default: float) -> float:
    if not text:
        return default
    return float(text) if "." in text else int(text)


def parse_floor(text: str) -> Range:
    """A range, where a bare number N means 'fewer than N' (`N:`), as check_http -C reads days."""
    return parse_range(f"{text}:" if _BARE.fullmatch(text) else text)


def ceiling(level: float) -> Range:
    """A config level for a figure that must stay at or below it: alerts above."""
    return parse_range(numeral(level))


def floor(level: float) -> Range:
    """A config level for a figure that must stay at or above it: alerts below."""
    return parse_range(f"{numeral(level)}:")


@dataclass(frozen=True)
class Threshold:
    warning: Range | None = None
    critical: Range | None = None

    def state(self, value: float) -> State:
        if self.critical is not None and self.critical.alerts(value):
            return State.CRITICAL
        if self.warning is not None and self.warning.alerts(value):
            return State.WARNING
        return State.OK

    def explain(self, value: float) -> str:
        """'(critical < 7)' for an alerting value, '' otherwise."""
        for name, rng in (("critical", self.critical), ("warning", self.warning)):
            if rng is not None and rng.alerts(value):
                return f"({name} {rng.explain(value)})"
        return ""

    def __str__(self) -> str:
        levels = (("warning", self.warning), ("critical", self.critical))
        return ", ".join(f"{name} {rng}" for name, rng in levels if rng is not None) or "none"
