"""check_registry: arguments -> probes run once -> verdicts -> one plugin answer.

Every way out is a plugin answer on stdout with the exit code of its state:
bad arguments, an unusable config and failures inside the plugin are UNKNOWN
with the reason, never a traceback.

nagiosplugin's Check/Runtime and `guarded` are not used for this: their
time-out is SIGALRM (main thread only, and it cannot interrupt a probe stuck
in a system call), results aggregate by exit code (UNKNOWN above CRITICAL),
`guarded` prints a traceback at its default verbosity, and a metric without
a value crashes ScalarContext.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from checks import arguments, config_file
from checks.collect import collect
from checks.output import Answer
from registry_monitor.config import Config, ConfigError
from registry_monitor.judgement.state import SEVERITY, State, worst
from registry_monitor.judgement.verdict import Options, UsageError, Verdict, unknown
from registry_monitor.probes.reading import Reading
from registry_monitor.verdicts import Limits, load


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str
    stuck: bool  # probe threads still running: the process must end with os._exit


def limits_for(names: tuple[str, ...], config: Config, options: Options) -> dict[str, Limits]:
    return {name: load(name).thresholds(config, options) for name in names}


def judge(reading: Reading[Any], limits: Limits) -> Verdict:
    try:
        return load(reading.probe).judge(reading, limits)
    except Exception as exc:  # a verdict bug must not hide the other probes' states
        return unknown(reading.probe, f"internal error judging the reading: {exc!r}")


def summarise(target: str, verdicts: list[Verdict]) -> tuple[State, str]:
    state = worst(v.state for v in verdicts)
    if target != "all":
        return state, verdicts[0].summary
    problems = [(v.probe, item) for v in verdicts for item in v.problems()]
    problems.sort(key=lambda p: -SEVERITY[p[1].state])
    if not problems:
        return state, f"{len(verdicts)} probes OK ({', '.join(v.probe for v in verdicts)})"
    return state, "; ".join(f"{probe}: {item.text}" for probe, item in problems)


def check(args: arguments.Args, started: float) -> Answer:
    deadline = started + args.timeout
    answer = Answer(args.target, State.UNKNOWN, "", args.verbosity, config_path=args.config)
    answer.run_timeout = args.timeout
    try:
        config = config_file.load(args.config)
    except ConfigError as exc:
        answer.summary = str(exc)
        return answer
    answer.node, answer.role = config.node, config.role
    names = config.probes_for_role() if args.target == "all" else (args.target,)
    answer.limits = limits_for(names, config, args.options)
    answer.timeouts = {n: getattr(config.timeouts, n) for n in names}

    collection = collect(names, config, deadline)
    answer.readings = {n: collection.readings[n] for n in names if n in collection.readings}
    answer.verdicts = [judge(r, answer.limits[n]) for n, r in answer.readings.items()]
    if collection.running:
        answer.waiting_for = collection.running
        answer.summary = (
            f"timed out after {args.timeout:g}s waiting for {', '.join(collection.running)}"
        )
        return answer
    answer.state, answer.summary = summarise(args.target, answer.verdicts)
    return answer


def run(argv: list[str]) -> Result:
    started = time.monotonic()
    as_json = "--json" in argv
    answer = Answer(arguments.target_hint(argv), State.UNKNOWN, "")
    try:
        args = arguments.parse(argv)
        answer = check(args, started)
    except arguments.HelpText as text:
        return Result(int(State.UNKNOWN), str(text), False)
    except UsageError as exc:
        answer.summary = f"{exc} (see check_registry --help)"
    except Exception as exc:  # the guidelines' UNKNOWN for failures inside the plugin
        answer.state, answer.summary = State.UNKNOWN, f"internal error: {exc!r}"
    output = answer.json() if as_json else answer.text()
    return Result(int(answer.state), output, bool(answer.waiting_for))
