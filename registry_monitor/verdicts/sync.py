"""sync: the standby's rsync unit: a failing unit or a stopped timer is CRITICAL.

The age of the last successful run (exit 0, or 24: files vanished while
copying) is judged against -w/-c in seconds, by default the config's
`sync_success_age_seconds` (30 / 60 minutes: three and six missed syncs).
"""

from __future__ import annotations

import time
from typing import Any

from registry_monitor.config import Config
from registry_monitor.judgement.ranges import Threshold, floor
from registry_monitor.judgement.state import State
from registry_monitor.judgement.verdict import Judgement, Options, Verdict
from registry_monitor.probes.reading import Reading
from registry_monitor.probes.sync import SyncStatus
from registry_monitor.verdicts import Limits, ceiling_levels, failed, when

UP = floor(1)


def thresholds(config: Config, options: Options) -> Limits:
    why = "-w/-c are the age of the last successful sync in seconds"
    levels = config.thresholds.sync_success_age_seconds
    return {"success_age": ceiling_levels(options, "sync", why, levels)}


def judge(reading: Reading[Any], limits: Limits) -> Verdict:
    s = reading.value
    if not isinstance(s, SyncStatus):
        return failed(reading)
    j = Judgement("sync")
    if s.load_state != "loaded":
        j.add(State.CRITICAL, f"{s.unit} {s.load_state}: no sync can run")
        return j.verdict("")
    if s.timer_active:
        j.add(State.OK, f"{s.timer} active")
    else:
        j.add(State.CRITICAL, f"{s.timer} {s.timer_state}: no sync will be started")
    j.perf("timer_active", int(s.timer_active), critical=UP, minimum=0, maximum=1)
    if s.running and s.last_run_started is not None:
        j.add(State.OK, f"{s.unit} running since {when(s.last_run_started)}")
    if s.last_exit_code is not None:
        at = f" at {when(s.last_exit_at)}" if s.last_exit_at is not None else ""
        text = f"last run of {s.unit} exited {s.last_exit_code} ({s.last_exit_meaning}){at}"
        j.add(State.OK if s.last_run_succeeded else State.CRITICAL, text)
        j.perf("last_exit_code", s.last_exit_code, minimum=0)
    elif s.active_state == "failed":
        j.add(State.CRITICAL, f"{s.unit} failed ({s.result})")
    age_limit = limits.get("success_age", Threshold())
    if s.last_success is None:
        if s.last_exit_code is None:
            j.add(
                State.UNKNOWN,
                f"no finished run of {s.unit} known yet (none since boot, none recorded in "
                "the state file)",
            )
        else:
            j.add(State.OK, "no successful run recorded")
        age = None
    else:
        age = round(max(0.0, time.time() - s.last_success))
        j.add(
            age_limit.state(age),
            f"last successful sync {age}s ago ({when(s.last_success)}) "
            f"{age_limit.explain(age)}".rstrip(),
        )
    j.perf("last_success_age", age, "s", age_limit, 0)
    if s.state_note:
        j.add(State.OK, f"note: {s.state_note}")
    if age is None:
        return j.verdict(f"{s.unit} {s.summary()}")
    return j.verdict(f"last successful sync {age}s ago, {s.summary()}")
