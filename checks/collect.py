"""Run the asked probes once, in parallel worker threads, within one deadline.

Each probe keeps its own time-out (the config's `timeouts`) through
ProbeRunner, the same guard the exporter uses, cut to fit inside the run's
budget (-t) with a margin: a registry that does not answer is then reported
as what it is (CRITICAL, "read timed out") before -t expires. The main
thread only waits until the run's deadline; probes still running then (stuck
in a system call, or fed a body one byte at a time) are reported by name, and
their threads are left behind (daemon threads: a probe stuck in the kernel
cannot hold the process, which ends with os._exit).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from registry_monitor.config import Config
from registry_monitor.probe_catalog import spec
from registry_monitor.probes import Shared, build_probe
from registry_monitor.probes.reading import ProbeRunner, Reading


class Collection(NamedTuple):  # not a dataclass, which costs ten times as much to define
    readings: dict[str, Reading[Any]]  # probes that returned, by name
    running: tuple[str, ...]  # probes still running at the deadline, in asked order


def no_run(name: str, reason: str) -> Reading[Any]:
    return Reading(name, time.time(), 0.0, None, reason)


def role_refusal(name: str, config: Config) -> str | None:
    """Why this node does not run `name`, or None if it does."""
    if config.runs(name):
        return None
    needs = spec(name).needs
    if needs is not None and getattr(config, needs.key) is None:
        return f"the {name} probe is off: set {needs.what} in the config"
    switch = spec(name).switch
    if switch is not None:
        return (
            f"the {name} probe is off on this node (role {config.role}); "
            f"set {switch.key}: true to {switch.does}"
        )
    return f"{name} does not run on a node with role {config.role}"


def probe_timeout(configured: float, budget: float) -> float:
    """The probe's own time-out, shortened to end before the run's: 10 % margin, at least 0.2 s."""
    margin = max(0.2, budget * 0.1)
    return max(0.05, min(configured, budget - margin))


def prepare(
    name: str, config: Config, shared: Shared, deadline: float, minutes: float = 5.0
) -> ProbeRunner | Reading[Any]:
    """The runner for a probe, or the reading that says why it will not run.

    Its time-out is sized from what is left of the run once the probe is built: building
    imports its modules (requests, for the HTTP probes), which takes a part of -t.

    A probe declared `windowed` (traffic) reads the log's last `minutes` here instead of
    following it.
    """
    refusal = role_refusal(name, config)
    if refusal is not None:
        return no_run(name, refusal)
    try:
        options = {"window_minutes": minutes} if spec(name).windowed else {}
        probe = build_probe(name, config, shared, **options)
    except Exception as exc:  # a probe that cannot be set up is a failed reading
        return no_run(name, f"cannot set up the {name} probe: {type(exc).__name__}: {exc}")
    budget = deadline - time.monotonic()
    timeout = probe_timeout(config.timeouts.of(name), budget)
    # the hard stop is -t itself: the runner waits past it (grace of a whole budget), so a
    # probe past its own time-out is reported by collect() as still running, never raced
    # into a "timed out" reading at the same instant
    return ProbeRunner(probe, timeout, grace=max(1.0, budget))


def quiet_logging() -> None:
    """No log record on stderr (Icinga would fold it into the answer). Only libraries
    that the probes loaded can log, and only if they loaded logging: this runs as each
    probe is built, so a check whose probes never import logging does not either."""
    if "logging" in sys.modules:
        import logging

        root = logging.getLogger()
        if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
            root.addHandler(logging.NullHandler())


class Turns:
    """Lets threads through one at a time, in the order of the numbers they were given."""

    def __init__(self) -> None:
        self._next = 0
        self._changed = threading.Condition()

    @contextmanager
    def turn(self, number: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._next == number)
        try:
            yield
        finally:
            with self._changed:
                self._next += 1
                self._changed.notify_all()


def collect(
    names: Iterable[str], config: Config, deadline: float, minutes: float = 5.0
) -> Collection:
    """Readings of every probe in names; `deadline` is a time.monotonic() value."""
    readings: dict[str, Reading[Any]] = {}
    threads: dict[str, threading.Thread] = {}
    shared = Shared(config)
    # Each probe is built (its modules imported) in its own thread, one at a time in the
    # asked order, and runs as soon as it is built: while one imports, those already
    # built wait on their sockets and subprocesses, so `all` costs little more than its
    # slowest probe. Imports under the GIL gain nothing from running at once, and one at
    # a time no two threads can meet in an import cycle.
    turns = Turns()

    def work(number: int, name: str) -> None:
        try:
            with turns.turn(number):
                prepared = prepare(name, config, shared, deadline, minutes)
                quiet_logging()
            readings[name] = prepared if isinstance(prepared, Reading) else prepared.run()
        except Exception as exc:  # a failure inside the plugin: this probe's UNKNOWN
            readings[name] = no_run(name, f"internal error: {exc!r}")

    for number, name in enumerate(names):
        thread = threading.Thread(
            target=work, args=(number, name), name=f"check-{name}", daemon=True
        )
        thread.start()
        threads[name] = thread
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    running = tuple(name for name, thread in threads.items() if thread.is_alive())
    done = readings.copy()  # one step under the GIL: late threads may still be adding
    return Collection({k: v for k, v in done.items() if k not in running}, running)
