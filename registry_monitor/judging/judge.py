"""Judging readings the one way both faces show: each probe's verdict, and a node's overall state.

check_registry judges the readings of its one run; the exporter judges the
scheduler's cached readings at request time. Both go through these
functions, so a reading means the same state and reasons on either face.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry_monitor.config import Config
from registry_monitor.judging.state import SEVERITY, State, worst
from registry_monitor.judging.verdict import Options, Verdict, unknown
from registry_monitor.judging.verdicts import Limits, failed, load
from registry_monitor.probes.reading import Reading, measured


def limits_for(names: Iterable[str], config: Config, options: Options) -> dict[str, Limits]:
    """Each probe's thresholds: the config's levels, overridden by options (UsageError)."""
    return {name: load(name).thresholds(config, options) for name in names}


def judge(reading: Reading[Any], limits: Limits) -> Verdict:
    """The probe's verdict on its reading; never raises.

    A reading without a value is UNKNOWN with its error, for every probe; a
    partial value (a ProbeFailed's) goes to the verdict with its error.
    """
    with_value = measured(reading)
    if with_value is None:
        return failed(reading)
    try:
        return load(reading.probe).judge(with_value, limits)
    except Exception as exc:  # a verdict bug must not hide the other probes' states
        return unknown(reading.probe, f"internal error judging the reading: {exc!r}")


def overall(verdicts: list[Verdict]) -> tuple[State, str]:
    """A node's state and summary, as `check_registry all` reports them.

    The worst state in the Monitoring Plugins order (an UNKNOWN never masks a
    known problem); the summary names every non-OK item, worst first.
    """
    state = worst(v.state for v in verdicts)
    problems = [(v.probe, item) for v in verdicts for item in v.problems()]
    problems.sort(key=lambda p: -SEVERITY[p[1].state])
    if not problems:
        return state, f"{len(verdicts)} probes OK ({', '.join(v.probe for v in verdicts)})"
    return state, "; ".join(f"{probe}: {item.text}" for probe, item in problems)
