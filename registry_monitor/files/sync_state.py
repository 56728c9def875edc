"""The sync unit's record: what systemd shows of its last runs, kept in state_dir.

systemd forgets the last run when it restarts and clears the exit figures when
a new run starts, so the last success and the last finished run are kept in a
small state file. The sync probe reports from it; the standby probe reads the
last successful start from it (what that run copied is older), and asks
systemd the same way only when the file has none. Below both probes, so that
neither imports the other.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

from registry_monitor.clients import systemd
from registry_monitor.files import statefile

STATE_FILE = "sync-state.json"
PROPERTIES = (  # of the service and of its timer, in one call
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "ExecMainCode",
    "ExecMainStatus",
    "ExecMainStartTimestamp",
    "ExecMainExitTimestamp",
    "LastTriggerUSec",
    "TimersMonotonic",
    "TimersCalendar",
)
# rsync's exit 24 ("some files vanished") is the expected race with pushes: a success
SUCCESS_CODES = frozenset({0, 24})
CLD_EXITED = "1"  # ExecMainCode: exited; 2 killed, 3 dumped core


def timer_of(unit: str) -> str:
    return unit.removesuffix(".service") + ".timer"


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


class State(NamedTuple):
    """What the state file keeps (whole seconds, as systemd shows them).

    A NamedTuple, not a dataclass: `check_registry sync` defines it on every start.
    """

    last_run_started: float | None = None
    last_exit_at: float | None = None
    last_exit_code: int | None = None
    last_success: float | None = None
    last_success_started: float | None = None
    last_duration: float | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> State:
        code = raw.get("last_exit_code")
        valid = isinstance(code, int) and not isinstance(code, bool) and 0 <= code < 512
        return cls(
            last_run_started=_time(raw.get("last_run_started")),
            last_exit_at=_time(raw.get("last_exit_at")),
            last_exit_code=code if valid else None,
            last_success=_time(raw.get("last_success")),
            last_success_started=_time(raw.get("last_success_started")),
            last_duration=_duration(raw.get("last_duration")),
        )


def _duration(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _newer(when: float | None, than: float | None) -> bool:
    return when is not None and (than is None or when > than)


def load_state(path: Path, unit: str) -> tuple[State, str | None]:
    """The kept state of `unit` (empty when the file is missing, unusable or of another unit)."""
    raw, note = statefile.load(path)
    return State.parse(raw if raw.get("unit") == unit else {}), note


def save_state(path: Path, unit: str, state: State) -> str | None:
    return statefile.save(path, {"unit": unit, **state._asdict()})


class Observed(NamedTuple):
    service: dict[str, str]  # the unit's PROPERTIES as systemd shows them
    timer: dict[str, str]  # its timer's
    running: bool
    state: State  # the record, with what systemd showed now
    note: str | None  # the state file could not be read or written


def observe(unit: str, systemctl: str, path: Path, timeout: float) -> Observed:
    """Ask systemd about `unit` and its timer and bring the record at `path` up to date
    (saved when it changed). Raises ProbeFailed when systemctl cannot answer."""
    service, timer = systemd.show(
        [unit, timer_of(unit)],
        PROPERTIES,
        systemctl=systemctl,
        timeout=timeout,
        unix_timestamps=True,
    )
    before, note = load_state(path, unit)
    state = before
    active_state = service.get("ActiveState", "unknown")
    sub_state = service.get("SubState", "unknown")
    # a oneshot is "activating" while it runs; a simple service would be active/running
    running = active_state in ("activating", "deactivating", "reloading") or (
        active_state == "active" and sub_state == "running"
    )
    started = systemd.realtime_to_unix(service.get("ExecMainStartTimestamp"))
    exited = systemd.realtime_to_unix(service.get("ExecMainExitTimestamp"))
    if _newer(started, state.last_run_started):
        state = state._replace(last_run_started=started)
    if not running and _newer(exited, state.last_exit_at):
        status = systemd.int_or_none(service.get("ExecMainStatus")) or 0
        how = service.get("ExecMainCode") or CLD_EXITED
        code = status if how == CLD_EXITED else 128 + status
        state = state._replace(
            last_exit_at=exited,
            last_exit_code=code,
            last_duration=(
                max(0.0, exited - started) if started is not None and exited is not None else None
            ),
        )
        if code in SUCCESS_CODES:
            state = state._replace(last_success=exited, last_success_started=started)
    if state != before:
        # a good save replaces whatever was unusable in the file before
        note = save_state(path, unit, state)
    return Observed(service, timer, running, state, note)
