"""sync: the rsync unit, judged by role.

On the standby a failing unit or a stopped timer is CRITICAL, and the age of
the last successful run (exit 0, or 24: files vanished while copying) is
judged against -w/-c in seconds, by default the config's
`sync_success_age_seconds` (30 / 60 minutes: three and six missed syncs).
Ages are taken at the reading's own start, not when the verdict is written.

On the active the unit must not run: its timer active, or a run going, is
CRITICAL and names the unit (it would pull from the old node and erase this
node's new pushes); a unit not installed there (not-found) is fine.

On both, a last run that lasted longer than the timer's period is a WARNING:
every later run starts late, and the lag grows.

On the standby, a refusal by the sync guard (check_registry sync-guard, run by
the unit before rsync) since the last successful run is CRITICAL and names its
reasons and the override: syncs stay stopped until the cause is fixed or an
operator lets one run through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, ceiling, floor
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, ceiling_levels
from registry_monitor.probes.reading import Measured
from registry_monitor.times import when

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.sync import SyncStatus

UP = floor(1)
DOWN = ceiling(0)


def thresholds(config: Config, options: Options) -> Limits:
    why = "-w/-c are the age of the last successful sync in seconds"
    levels = config.thresholds.sync_success_age_seconds
    return {"success_age": ceiling_levels(options, "sync", why, levels)}


def judge(reading: Measured[SyncStatus], limits: Limits) -> Verdict:
    s = reading.value
    if s.role == "active":
        return _judge_active(s)
    return _judge_standby(s, reading.started_at, limits)


def _duration(j: VerdictBuilder, s: SyncStatus) -> None:
    if s.last_duration_seconds is None:
        return
    took = round(s.last_duration_seconds)
    if s.outlasts_period and s.timer_period_seconds is not None:
        period = round(s.timer_period_seconds)
        j.add(
            State.WARNING,
            f"last run of {s.unit} took {took}s, longer than {s.timer} period ({period}s): "
            "every later run starts late",
        )
    else:
        j.add(State.OK, f"last run took {took}s")
    j.perf("last_duration", took, "s", minimum=0, maximum=s.timer_period_seconds)


def _guard(j: VerdictBuilder, s: SyncStatus) -> None:
    g = s.guard
    if g is None:
        return
    if g.last_refusal_at is not None:
        what = f"the sync guard refused the run at {when(g.last_refusal_at)}: {g.last_refusal}"
        if s.guard_refused_last:
            j.add(State.CRITICAL, what)
        else:
            j.add(State.OK, f"{what} (a run succeeded since)")
    if g.last_exemption is not None and g.last_exemption_at is not None:
        j.add(
            State.OK,
            f"sync guard exemption used at {when(g.last_exemption_at)}: {g.last_exemption}",
        )
    if g.note:
        j.add(State.OK, f"note: sync guard record: {g.note}")


def _judge_active(s: SyncStatus) -> Verdict:
    j = VerdictBuilder("sync")
    if not s.installed:
        j.add(State.OK, f"{s.unit} not installed, as it should be on the active")
        return j.verdict(f"{s.unit} not installed on the active")
    if s.running:
        since = f" since {when(s.last_run_started)}" if s.last_run_started else ""
        j.add(
            State.CRITICAL,
            f"{s.unit} running on the active{since}: it pulls from the other node and "
            "erases this node's new pushes",
        )
    if s.timer_active:
        j.add(
            State.CRITICAL,
            f"{s.timer} active on the active: {s.unit} will pull from the other node and "
            "erase this node's new pushes (systemctl disable --now "
            f"{s.timer})",
        )
    else:
        j.add(State.OK, f"{s.timer} {s.timer_state}, as it should be on the active")
    j.perf("timer_active", int(s.timer_active), critical=DOWN, minimum=0, maximum=1)
    j.perf("running", int(s.running), critical=DOWN, minimum=0, maximum=1)
    _duration(j, s)
    if s.state_note:
        j.add(State.OK, f"note: {s.state_note}")
    return j.verdict(f"{s.unit} stopped and {s.timer} {s.timer_state} on the active")


# puppet's rsync::quickdatacopy renders no SuccessExitStatus unless told
# (modules/rsync/manifests/quickdatacopy.pp, ignore_missing_file_errors).
SYSTEMD_DISAGREES = (
    "systemd records {unit} as failed (exit 24 without SuccessExitStatus=24); a generic "
    "failed-unit alert fires on it: set ignore_missing_file_errors => true on "
    "rsync::quickdatacopy in puppet"
)


def _judge_standby(s: SyncStatus, now: float, limits: Limits) -> Verdict:
    j = VerdictBuilder("sync")
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
        if s.last_run_succeeded and s.active_state == "failed":
            j.add(State.OK, f"note: {SYSTEMD_DISAGREES.format(unit=s.unit)}")
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
        age = round(max(0.0, now - s.last_success))
        j.add(
            age_limit.state(age),
            f"last successful sync {age}s ago ({when(s.last_success)}) "
            f"{age_limit.explain(age)}".rstrip(),
        )
    j.perf("last_success_age", age, "s", age_limit, 0)
    _duration(j, s)
    _guard(j, s)
    if s.state_note:
        j.add(State.OK, f"note: {s.state_note}")
    if age is None:
        return j.verdict(f"{s.unit} {s.summary()}")
    return j.verdict(f"last successful sync {age}s ago, {s.summary()}")
