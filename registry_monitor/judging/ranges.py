"""Monitoring Plugins threshold ranges: `10`, `10:`, `~:10`, `10:20`, `@10:20`.

A range *alerts* when the value lies outside start..end (both ends
inclusive), or inside it when the range starts with `@`. A bare end means
start 0; an omitted end is +infinity; `~` as start is -infinity.

The text is held to the guidelines' grammar by one regex; its groups are the
bounds, and matching is two comparisons. This once went through
nagiosplugin.Range, whose parser is too lenient for user input (it hands atoms
to int()/float(), which accept ' 5', '1_0', non-ASCII digits and 'nan.', and
takes ':10'), so the regex stood in front of it anyway; and whose import loads
the whole package (its Check runtime, logging, tempfile, the compressors) on
every check_registry run.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from registry_monitor.judging.numerals import numeral
from registry_monitor.judging.state import State

_NUMERAL = r"-?[0-9]+(?:\.[0-9]+)?"
_RANGE = re.compile(rf"(?P<invert>@)?(?:(?P<start>~|{_NUMERAL}):)?(?P<end>{_NUMERAL})?")
_BARE = re.compile(_NUMERAL)

EXAMPLES = "e.g. 10, 10:, ~:10, 10:20, @10:20"


class RangeError(ValueError):
    """A threshold that is not a valid range; the message says why."""


class Range(NamedTuple):  # not a dataclass: built on every check_registry start
    """A Monitoring Plugins threshold range, parsed from its text (by parse_range alone, so
    low, high and invert follow from spec: equal specs are equal ranges)."""

    spec: str  # the validated text
    # The bounds as written: an int unless the text has a decimal point, so that a long
    # integer keeps every digit in perfdata (float would round it).
    low: int | float
    high: int | float
    invert: bool = False

    @property
    def start(self) -> float:
        return float(self.low)

    @property
    def end(self) -> float:
        return float(self.high)

    def alerts(self, value: float) -> bool:
        """True when value exceeds the threshold: outside low..high, or inside when inverted."""
        outside = value < self.low or value > self.high  # NaN is inside, as nagiosplugin had it
        return not outside if self.invert else outside

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
            text += f"{numeral(self.low)}:"
        if self.end != math.inf:
            text += numeral(self.high)
        return text


def _bound(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else numeral(value)


def _number(numeral_text: str) -> int | float:
    return float(numeral_text) if "." in numeral_text else int(numeral_text)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else f"{text[:20]}...{text[-8:]}")


def parse_range(text: str) -> Range:
    match = _RANGE.fullmatch(text)
    if match is None or not (match["start"] or match["end"]):
        raise RangeError(f"{_shown(text)} is not a range ([@][START:][END], {EXAMPLES})")
    for atom in (match["start"], match["end"]):
        # float() of a long numeral is inf, int() of one past 4,300 digits raises
        if atom and atom != "~" and (len(atom) > 330 or not math.isfinite(float(atom))):
            raise RangeError(f"{_shown(text)} is not a range: {_shown(atom)} is too large")
    start, end = match["start"], match["end"]
    low = -math.inf if start == "~" else _number(start) if start else 0
    high = _number(end) if end else math.inf
    if low > high:
        raise RangeError(
            f"{_shown(text)} is not a range: start {start or 0} is greater than end {end}"
        )
    return Range(text, low, high, invert=bool(match["invert"]))


def parse_floor(text: str) -> Range:
    """A range, where a bare number N means 'fewer than N' (`N:`), as check_http -C reads days."""
    return parse_range(f"{text}:" if _BARE.fullmatch(text) else text)


def ceiling(level: float) -> Range:
    """A config level for a figure that must stay at or below it: alerts above."""
    return parse_range(numeral(level))


def floor(level: float) -> Range:
    """A config level for a figure that must stay at or above it: alerts below."""
    return parse_range(f"{numeral(level)}:")


class Threshold(NamedTuple):  # not a dataclass: built on every check_registry run
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
