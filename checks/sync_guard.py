"""check_registry sync-guard: the sync unit's ExecStartPre (debian/ ships the drop-in).

Exit 0 lets systemd go on to rsync; any other exit fails the unit before rsync
starts, with this answer (status line and every reason) in the unit's journal.
The run's bound is the config's `sync_guard.timeout_seconds` unless -t is given
(the unit itself has no start time-out: puppet's systemd::timer::job sets none).

`--allow-once REASON` only writes the exemption the next guard run consumes, and
logs it to syslog (the journal) as well as answering on stdout.
"""

from __future__ import annotations

import time

from checks import arguments
from checks.output import Answer
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Item
from registry_monitor.judging.verdicts.sync_guard import judge_guard
from registry_monitor.sync_guard import record
from registry_monitor.sync_guard.decision import decide
from registry_monitor.sync_guard.measure import measure

MARGIN = 0.1  # of the bound: time to judge, record and answer after measuring


def _syslog(message: str) -> None:
    import syslog

    syslog.openlog("check_registry", syslog.LOG_PID, syslog.LOG_DAEMON)
    syslog.syslog(syslog.LOG_WARNING, message)


def allow_once(config: Config, reason: str, answer: Answer) -> Answer:
    by = record.invoking_user()
    note = record.write_exemption(config.state_dir, reason.strip(), by, time.time())
    if note is not None:
        answer.summary = f"exemption not written: {note}"
        return answer
    minutes = record.ALLOW_ONCE_SECONDS / 60
    message = (
        f"sync-guard exemption {reason.strip()!r} by {by} written to "
        f"{config.state_dir / record.ALLOW_ONCE_FILE}: the next sync run is let through "
        f"whatever the guard finds (unused, it expires in {minutes:.0f} minutes)"
    )
    _syslog(message)
    answer.state, answer.summary = State.OK, message
    return answer


def check_sync_guard(
    args: arguments.Args, config: Config, answer: Answer, started: float
) -> Answer:
    answer.verbosity = max(1, answer.verbosity)  # the journal gets every reason
    if args.allow_once is not None:
        return allow_once(config, args.allow_once, answer)
    bound = args.timeout if args.timeout_given else config.sync_guard.timeout_seconds
    elapsed = time.monotonic() - started
    facts = measure(config, Deadline(max(0.1, bound * (1 - MARGIN) - elapsed)))
    exemption, exemption_note = record.take_exemption(config.state_dir, time.time())
    decision = decide(facts, config.sync_guard, exemption)
    verdict = judge_guard(decision)
    notes = [exemption_note] if exemption_note else []
    if exemption is not None and not decision.refusals:
        notes.append(f"exemption {exemption.describe()} consumed by a run that needed none")
    refused = tuple(r.reason for r in decision.refusals)
    saved = record.record_run(
        config.state_dir,
        refused,
        verdict.summary,
        exemption if decision.exempted else None,
        time.time(),
    )
    if saved is not None:
        notes.append(f"the refusal is not recorded for the exporter: {saved}")
    if decision.exempted:
        _syslog(f"sync-guard: {verdict.summary}")
    extra = tuple(Item(State.OK, f"note: {n}") for n in notes)
    answer.verdicts = [verdict._replace(items=verdict.items + extra)]
    answer.readings = facts.readings()
    answer.state, answer.summary = verdict.state, verdict.summary
    return answer
