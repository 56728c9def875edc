"""sync: the rsync unit and its timer, from `systemctl show` (both roles).

The unit is a oneshot service: `activating` while rsync runs, then
`inactive` (or `failed`). systemd forgets the last run when it restarts and
clears the exit figures when a new run starts, so the last success and the
last finished run are kept in a small state file in state_dir
(registry_monitor/files/sync_state.py, which the standby probe reads too). Timestamps
are read in systemd's realtime form as unix seconds (`--timestamp=unix`):
the same value on every read, and able to name any time, where the
monotonic form would have to be converted with this process's clocks (a
jitter of microseconds to a second) and ends at boot.

On the standby the unit must run; on the active it must not (it would pull
from the old node and erase the active's own new pushes): the probe runs on
both and the verdict judges by role. The timer's period comes from its own
settings (OnUnitActiveSec=, or the usual OnCalendar= forms), so that a run
outlasting it can be seen.

rsync's exit 24 ("some files vanished before they could be transferred") is
the expected race with pushes and garbage collection on the active: it counts
as a success. Any other non-zero exit is a failed run; 25 is rsync's own
`--max-delete` stopping deletions, for a unit run with it.

The sync guard (registry_monitor/sync_guard/, run by the unit before rsync)
keeps its refusals in state_dir; they are read here, so that the sync's
verdict and metrics show a run the guard stopped.
"""

from __future__ import annotations

from typing import NamedTuple

from registry_monitor.base import Deadline
from registry_monitor.clients import systemd
from registry_monitor.config import Config
from registry_monitor.files.sync_state import STATE_FILE, SUCCESS_CODES, observe, timer_of
from registry_monitor.sync_guard.record import GuardHistory, load_history

# rsync(1) EXIT VALUES
RSYNC_EXITS = {
    0: "success",
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    5: "error starting client-server protocol",
    10: "error in socket I/O (active unreachable?)",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    20: "received SIGUSR1 or SIGINT",
    23: "partial transfer due to error",
    24: "files vanished (expected race with pushes)",
    25: "--max-delete limit stopped deletions (the source shrank?)",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
}


def exit_meaning(code: int | None) -> str | None:
    if code is None:
        return None
    if code >= 128:
        return f"killed by signal {code - 128}"
    return RSYNC_EXITS.get(code, f"exit status {code}")


class SyncStatus(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """The sync unit and its timer as systemd reports them, and the sync guard's refusals."""

    unit: str
    timer: str
    role: str  # this node's: the unit must run on the standby and must not on the active
    load_state: str
    active_state: str
    sub_state: str
    result: str
    running: bool
    timer_active: bool
    timer_state: str
    last_run_started: float | None  # unix time the last (or current) run started
    last_exit_code: int | None  # of the last finished run; 128+N when killed by signal N
    last_exit_meaning: str | None
    last_exit_at: float | None
    last_success: float | None  # when the last run with exit 0 or 24 finished
    last_success_started: float | None  # when that run started: what it copied is older
    last_duration_seconds: float | None  # of the last finished run (whole seconds)
    timer_period_seconds: float | None  # between two runs, from the timer's settings
    state_note: str | None  # the state file could not be read or written
    guard: GuardHistory | None = None  # the sync guard's refusals (sync_guard/record.py)

    @property
    def guard_refused_last(self) -> bool:
        """The guard's last refusal came after the last successful run: syncs are stopped."""
        at = self.guard.last_refusal_at if self.guard is not None else None
        return at is not None and (self.last_success is None or at > self.last_success)

    @property
    def installed(self) -> bool:
        return self.load_state != "not-found"

    @property
    def runs_on_active(self) -> bool:
        """The fault of an active: its timer scheduled, or a run going."""
        return self.role == "active" and (self.timer_active or self.running)

    @property
    def outlasts_period(self) -> bool:
        return (
            self.timer_period_seconds is not None
            and self.last_duration_seconds is not None
            and self.last_duration_seconds > self.timer_period_seconds
        )

    @property
    def last_run_succeeded(self) -> bool | None:
        return None if self.last_exit_code is None else self.last_exit_code in SUCCESS_CODES

    def summary(self) -> str:
        if self.load_state != "loaded":
            return f"{self.unit} {self.load_state}"
        parts = ["running" if self.running else self.active_state]
        if self.runs_on_active:
            parts.insert(0, "ON THE ACTIVE")
        if self.last_exit_code is not None:
            parts.append(f"last exit {self.last_exit_code} ({self.last_exit_meaning})")
        if not self.timer_active:
            parts.append(f"timer {self.timer_state}")
        return ", ".join(parts)


class SyncProbe:
    name = "sync"

    def __init__(self, config: Config) -> None:
        self.unit = config.sync_unit
        self.timer = timer_of(config.sync_unit)
        self.role = config.role
        self.systemctl = config.systemctl
        self.state_path = config.state_dir / STATE_FILE
        self.state_dir = config.state_dir

    def __call__(self, deadline: Deadline) -> SyncStatus:
        seen = observe(self.unit, self.systemctl, self.state_path, deadline.io_timeout())
        service, timer, state = seen.service, seen.timer, seen.state
        return SyncStatus(
            unit=self.unit,
            timer=self.timer,
            role=self.role,
            load_state=service.get("LoadState", "unknown"),
            active_state=service.get("ActiveState", "unknown"),
            sub_state=service.get("SubState", "unknown"),
            result=service.get("Result", ""),
            running=seen.running,
            timer_active=timer.get("ActiveState") == "active",
            timer_state=timer.get("ActiveState", "unknown"),
            last_run_started=state.last_run_started
            or systemd.realtime_to_unix(timer.get("LastTriggerUSec")),
            last_exit_code=state.last_exit_code,
            last_exit_meaning=exit_meaning(state.last_exit_code),
            last_exit_at=state.last_exit_at,
            last_success=state.last_success,
            last_success_started=state.last_success_started,
            last_duration_seconds=state.last_duration,
            timer_period_seconds=systemd.timer_period(timer),
            state_note=seen.note,
            guard=load_history(self.state_dir),
        )
