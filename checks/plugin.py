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
from typing import NamedTuple

from checks import arguments, config_cache
from checks.collect import collect
from checks.output import Answer
from registry_monitor.config import Config, ConfigError
from registry_monitor.judging.judge import judge, limits_for, overall
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import UsageError, Verdict
from registry_monitor.probe_catalog import spec


class Result(NamedTuple):  # not a dataclass, which costs ten times as much to define
    exit_code: int
    output: str
    stuck: bool  # probe threads still running: the process must end with os._exit


def summarise(target: str, verdicts: list[Verdict]) -> tuple[State, str]:
    """One probe's own state and summary, or for `all` the node's (as the exporter shows it)."""
    if target != "all":
        return verdicts[0].state, verdicts[0].summary
    return overall(verdicts)


def keep_cert_facts(names: tuple[str, ...]) -> None:
    """A certificate's fields, read once by cryptography, are kept in the user's cache
    directory by the certificate's sha256, so that the next runs of the probes declared
    `reads_certificates` need no cryptography."""
    reads = any(spec(name).reads_certificates for name in names)
    directory = config_cache.cache_dir() if reads else None
    if directory is not None:
        from registry_monitor.tls import certfacts

        certfacts.keep_on_disk(directory / "cert-facts.json")


def check(args: arguments.Args, started: float) -> Answer:
    deadline = started + args.timeout
    answer = Answer(args.target, State.UNKNOWN, "", args.verbosity, config_path=args.config)
    answer.run_timeout = args.timeout
    try:
        config = config_cache.load(args.config)
    except ConfigError as exc:
        answer.summary = str(exc)
        return answer
    answer.node, answer.role = config.node, config.role
    if args.target == "failover":
        return check_failover(args, config, answer, deadline)
    if args.target == "sync-guard":
        from checks.sync_guard import check_sync_guard

        return check_sync_guard(args, config, answer, started)
    names = config.probes_for_role() if args.target == "all" else (args.target,)
    answer.limits = limits_for(names, config, args.options)
    finished = run_probes(names, config, args, answer, deadline)
    answer.verdicts = [judge(r, answer.limits[n]) for n, r in answer.readings.items()]
    if finished:
        answer.state, answer.summary = summarise(args.target, answer.verdicts)
    return answer


def run_probes(
    names: tuple[str, ...], config: Config, args: arguments.Args, answer: Answer, deadline: float
) -> bool:
    """The probes' readings into answer; False, with the time-out as its summary, when some
    were still running at the deadline."""
    answer.timeouts = {n: config.timeouts.of(n) for n in names}
    keep_cert_facts(names)
    collection = collect(names, config, deadline, args.minutes)
    answer.readings = {n: collection.readings[n] for n in names if n in collection.readings}
    if collection.running:
        answer.waiting_for = collection.running
        answer.summary = (
            f"timed out after {args.timeout:g}s waiting for {', '.join(collection.running)}"
        )
        return False
    return True


def check_failover(args: arguments.Args, config: Config, answer: Answer, deadline: float) -> Answer:
    """Run the probes readiness is judged from, then the one judgement the exporter uses."""
    from registry_monitor.judging.readiness import PROBES, assess_readiness
    from registry_monitor.judging.verdicts.failover import readiness_verdict

    if config.role != "standby":
        answer.summary = (
            f"failover readiness is judged on the standby; this node has role {config.role}"
        )
        return answer
    if not run_probes(PROBES, config, args, answer, deadline):
        return answer
    verdict = readiness_verdict(assess_readiness(config, answer.readings))
    answer.verdicts = [verdict]
    answer.state, answer.summary = verdict.state, verdict.summary
    return answer


def run(argv: list[str], started: float | None = None) -> Result:
    """The plugin's answer; -t runs from `started` (a time.monotonic() value, default now)."""
    started = time.monotonic() if started is None else started
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
    try:
        output = answer.json() if as_json else answer.text()
    except Exception as exc:  # rendering is part of the plugin: UNKNOWN, never a traceback
        answer = Answer(answer.target, State.UNKNOWN, f"internal error: {exc!r}")
        output = answer.json() if as_json else answer.text()
    return Result(int(answer.state), output, bool(answer.waiting_for))
