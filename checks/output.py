"""The plugin's answer as text (status line, long output) or as JSON.

Every line goes through `clean` (registry_monitor.judging.lines): no `|`,
which Icinga would read as the start of perfdata, and multi-line reasons
folded into the one line they belong to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checks.collect import probe_timeout
from registry_monitor.judging.lines import clean, reason_lines
from registry_monitor.judging.perfdata import render
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Verdict
from registry_monitor.judging.verdicts import Limits
from registry_monitor.probes.reading import Reading


class Answer:
    """What check_registry prints and exits with, before it is rendered.

    A plain class, not a dataclass: a builder filled in place and rendered once, and
    check_registry defines it on every start (no generated code, no dataclasses import).
    """

    __slots__ = (
        "config_path",
        "limits",
        "node",
        "readings",
        "role",
        "run_timeout",
        "state",
        "summary",
        "target",
        "timeouts",
        "verbosity",
        "verdicts",
        "waiting_for",
    )

    def __init__(
        self,
        target: str | None,  # the probe asked, or None if the arguments did not say
        state: State,
        summary: str,
        verbosity: int = 0,
        verdicts: list[Verdict] | None = None,
        readings: dict[str, Reading[Any]] | None = None,
        limits: dict[str, Limits] | None = None,
        timeouts: dict[str, float] | None = None,
        waiting_for: tuple[str, ...] = (),  # probes still running at the -t deadline
        run_timeout: float | None = None,
        config_path: Path | None = None,
        node: str | None = None,
        role: str | None = None,
    ) -> None:
        self.target = target
        self.state = state
        self.summary = summary
        self.verbosity = verbosity
        self.verdicts: list[Verdict] = [] if verdicts is None else verdicts
        self.readings: dict[str, Reading[Any]] = {} if readings is None else readings
        self.limits: dict[str, Limits] = {} if limits is None else limits
        self.timeouts: dict[str, float] = {} if timeouts is None else timeouts
        self.waiting_for = waiting_for
        self.run_timeout = run_timeout
        self.config_path = config_path
        self.node = node
        self.role = role

    @property
    def title(self) -> str:
        return f"REGISTRY {self.target.upper()}" if self.target else "REGISTRY"

    def status_line(self) -> str:
        line = f"{self.title} {self.state.name} - {clean(self.summary)}"
        perfdata = render([p for v in self.verdicts for p in v.perfdata])
        return f"{line} | {perfdata}" if perfdata and not self.waiting_for else line

    def long_output(self) -> list[str]:
        lines: list[str] = []
        if self.verbosity >= 1:
            several = self.target == "all"
            for v in self.verdicts:
                lines += reason_lines(v, f"{v.probe}: " if several else "")
        if self.verbosity >= 2:
            lines += self.context_lines()
        if self.verbosity >= 3:
            for name, reading in self.readings.items():
                lines += [f"{name} reading: {kv}" for kv in flatten(reading_json(reading))]
        return [clean(line) for line in lines if line.strip()]

    def context_lines(self) -> list[str]:
        source = str(self.config_path) if self.config_path else "built-in defaults"
        lines = [f"config: {source} (node {self.node}, role {self.role})"]
        for name, limits in self.limits.items():
            for figure, threshold in limits.items():
                lines.append(f"{name} threshold {figure}: {threshold}")
        for name, reading in self.readings.items():
            own = self.timeouts.get(name)
            budget = f" of its {own:g} s time-out" if own else ""
            lines.append(f"{name} probe ran {reading.duration_seconds:.3f} s{budget}")
            if own and self.run_timeout:
                cut = probe_timeout(own, self.run_timeout)
                if cut < own:
                    lines.append(
                        f"{name}: its own time-out ({own:g} s) was cut to {cut:.3g} s "
                        f"to end inside -t ({self.run_timeout:g} s)"
                    )
        return lines

    def text(self) -> str:
        return "\n".join([self.status_line(), *self.long_output()]) + "\n"

    def json(self) -> str:
        import json  # only for --json: a plain run does not pay for it

        doc = {
            "check": self.target,
            "state": self.state.name,
            "exit_code": int(self.state),
            "summary": clean(self.summary),
            "timed_out": (
                {"after_seconds": self.run_timeout, "waiting_for": list(self.waiting_for)}
                if self.waiting_for
                else None
            ),
            "config": str(self.config_path) if self.config_path else None,
            "node": self.node,
            "role": self.role,
            "probes": [self.probe_json(v) for v in self.verdicts],
        }
        return json.dumps(doc, indent=2) + "\n"

    def probe_json(self, v: Verdict) -> dict[str, Any]:
        reading = self.readings.get(v.probe)
        return {
            "probe": v.probe,
            "state": v.state.name,
            "summary": v.summary,
            "items": [
                {"state": i.state.name, "text": i.text, **({"detail": True} if i.detail else {})}
                for i in v.items
            ],
            "perfdata": [str(p) for p in v.perfdata],
            "thresholds": {
                figure: {
                    "warning": None if t.warning is None else str(t.warning),
                    "critical": None if t.critical is None else str(t.critical),
                }
                for figure, t in self.limits.get(v.probe, {}).items()
            },
            "reading": None if reading is None else reading_json(reading),
        }


def reading_json(reading: Reading[Any]) -> dict[str, Any]:
    from registry_monitor.judging.jsonable import jsonable  # only for --json and -vvv

    return {
        "ok": reading.ok,
        "error": reading.error,
        "started_at": reading.started_at,
        "duration_seconds": reading.duration_seconds,
        "value": jsonable(reading.value),
    }


def flatten(value: Any, prefix: str = "") -> list[str]:
    """key.path=value lines of a JSON value, for -vvv."""
    import json

    if isinstance(value, dict):
        return [line for k, v in value.items() for line in flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return [line for i, v in enumerate(value) for line in flatten(v, f"{prefix}{i}.")]
    return [f"{prefix.rstrip('.')}={json.dumps(value)}"]
