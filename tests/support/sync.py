"""Runs older than the fake systemd's boot, kept where production keeps them: the sync
probe's state file in state_dir."""

from __future__ import annotations

from pathlib import Path

from registry_monitor.files.sync_state import STATE_FILE, State, save_state
from testbed.rsync import SYNC_UNIT


def seed_run(
    state_dir: Path, start: float, end: float, exit_code: int = 0, unit: str = SYNC_UNIT
) -> None:
    """A finished run as the probe would have saved it before a reboot."""
    succeeded = exit_code in (0, 24)
    state = State(
        last_run_started=start,
        last_exit_at=end,
        last_exit_code=exit_code,
        last_success=end if succeeded else None,
        last_success_started=start if succeeded else None,
        last_duration=end - start,
    )
    assert save_state(state_dir / STATE_FILE, unit, state) is None
