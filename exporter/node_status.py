"""The scheduler's cached readings, judged at request time as `check_registry all` judges.

No probe ever runs on request: a page view or an /api/status call judges the
last reading of each probe against the config's thresholds (no command-line
options here) through registry_monitor.judging.judge, the same code path as the
plugin. A probe without a reading yet is UNKNOWN, as a probe that has not
answered is for the plugin; it counts in the overall state like any other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from registry_monitor.config import Config
from registry_monitor.judging.judge import judge, limits_for, overall
from registry_monitor.judging.lines import clean, item_lines
from registry_monitor.judging.readiness import Readiness, assess_readiness
from registry_monitor.judging.state import SEVERITY, State
from registry_monitor.judging.verdict import Item, Options, Verdict, unknown
from registry_monitor.judging.verdicts import Limits
from registry_monitor.judging.verdicts.failover import readiness_verdict
from registry_monitor.probes.reading import Reading

NOT_RUN = "no reading yet: the probe has not finished its first run"


class Evidence(Enum):
    """What stands behind a verdict: a failed probe must not read like a crossed threshold."""

    PENDING = "not run yet"
    FAILED = "probe failed: could not measure"
    PARTIAL = "probe measured in part"
    MEASURED = "measured"


@dataclass(frozen=True)
class ProbeVerdict:
    name: str
    reading: Reading[Any] | None
    verdict: Verdict
    interval_seconds: float | None

    @property
    def evidence(self) -> Evidence:
        if self.reading is None:
            return Evidence.PENDING
        if self.reading.ok:
            return Evidence.MEASURED
        return Evidence.FAILED if self.reading.value is None else Evidence.PARTIAL

    @property
    def summary(self) -> str:
        """The text `check_registry <probe>` prints on its status line."""
        return clean(self.verdict.summary)

    @property
    def lines(self) -> list[tuple[Item, str]]:
        """Each item with the line `check_registry <probe> -v` prints for it."""
        return item_lines(self.verdict)

    @property
    def reasons(self) -> list[str]:
        """The lines `check_registry <probe> -v` prints for this reading."""
        return [line for _, line in self.lines]


@dataclass(frozen=True)
class FailoverAnswer:
    """On the standby: `check_registry failover`'s answer, from the cached readings."""

    readiness: Readiness
    verdict: Verdict

    def json(self) -> dict[str, Any]:
        r, gone = self.readiness, self.readiness.active_gone
        return {
            "state": self.verdict.state.name,
            "ready": r.ready,
            "summary": clean(self.verdict.summary),
            "lost_tags": r.lost_tags,
            "lag_seconds": None if r.lag_seconds is None else round(r.lag_seconds, 3),
            "oldest_lost_push": r.oldest_lost_push,
            "lost_examples": list(r.lost_examples),
            "blockers": [{"reason": b.reason, "detail": b.detail} for b in r.blockers],
            "notes": list(r.notes),
            "remaining": list(r.remaining),
            "active_gone": None
            if gone is None
            else {"since": gone.since, "known_at": gone.known_at, "error": gone.error},
            "reasons": [line for _, line in item_lines(self.verdict)],
        }


@dataclass(frozen=True)
class NodeVerdict:
    state: State
    summary: str  # `check_registry all`'s status line text
    probes: tuple[ProbeVerdict, ...]
    judged_at: float
    failover: FailoverAnswer | None = None  # on the standby

    def problems(self) -> list[tuple[State, str]]:
        """The non-OK lines `check_registry all -v` prints, worst first: the summary's items."""
        found = [
            (item.state, line)
            for p in self.probes
            for item, line in item_lines(p.verdict, f"{p.name}: ")
            if item.state is not State.OK and not item.detail
        ]
        return sorted(found, key=lambda found: -SEVERITY[found[0]])


class RequestJudge:
    """Thresholds taken from the config once; verdicts made fresh on every call."""

    def __init__(self, config: Config, probes: tuple[str, ...]) -> None:
        self.config = config
        self.probes = probes
        self.limits: dict[str, Limits] = {}
        self.refused: dict[str, str] = {}  # probe -> why its thresholds are unusable
        for name in probes:
            try:
                self.limits.update(limits_for((name,), config, Options()))
            except Exception as exc:  # a level no range can hold: that probe alone is UNKNOWN
                self.refused[name] = f"cannot use the config's thresholds for {name}: {exc}"

    def verdict(self, name: str, reading: Reading[Any] | None) -> Verdict:
        if reading is None:
            return unknown(name, NOT_RUN)
        if name in self.refused:
            return unknown(name, self.refused[name])
        return judge(reading, self.limits[name])

    def __call__(
        self, readings: Mapping[str, Reading[Any]], intervals: Mapping[str, float]
    ) -> NodeVerdict:
        probes = tuple(
            ProbeVerdict(
                name,
                readings.get(name),
                self.verdict(name, readings.get(name)),
                intervals.get(name),
            )
            for name in self.probes
        )
        state, summary = overall([p.verdict for p in probes])
        now = time.time()
        answer = None
        if self.config.role == "standby":
            readiness = assess_readiness(self.config, readings, now)
            answer = FailoverAnswer(readiness, readiness_verdict(readiness))
        return NodeVerdict(state, clean(summary), probes, now, answer)
