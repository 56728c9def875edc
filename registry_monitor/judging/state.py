"""Service states, their exit codes, and the order in which they aggregate."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class State(IntEnum):
    """The plugin API's states; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# Monitoring Plugins 3.0 order (max_state_alt): OK < UNKNOWN < WARNING < CRITICAL,
# so a known CRITICAL is never masked by another item's UNKNOWN. (The exit codes'
# numeric maximum, which nagiosplugin uses, would put UNKNOWN above CRITICAL.)
SEVERITY = {State.OK: 0, State.UNKNOWN: 1, State.WARNING: 2, State.CRITICAL: 3}


def worst(states: Iterable[State]) -> State:
    return max(states, key=SEVERITY.__getitem__, default=State.OK)
