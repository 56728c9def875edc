"""The one shape every probe returns, and the guard that runs a probe.

A probe is a callable taking a Deadline and returning its own frozen
dataclass or NamedTuple (the local probes': check_registry defines it on every
start, where a NamedTuple costs a tenth). It may raise: `run_probe` turns any
exception, and a run that overstays its time-out, into a Reading with an error,
so neither face ever sees a probe crash or hang.

Reading and Measured are NamedTuples, not dataclasses: every check_registry
defines them, and a local check imports no dataclasses (its import alone costs
more than a quarter of the start-up budget).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from registry_monitor.base import Deadline, ProbeFailed

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Probe(Protocol[T_co]):
    name: str

    def __call__(self, deadline: Deadline) -> T_co: ...


class Reading(NamedTuple, Generic[T]):
    """One run of a probe: what it read, or the error that stopped it."""

    probe: str
    started_at: float  # unix time the run began
    duration_seconds: float
    value: T | None  # the probe's own result; may be partial when error is set
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Measured(Reading[T]):
    """A reading that carries its probe's value: a whole one, or a partial one with an error.

    What the verdicts and the exporter's renderers take: a reading without a
    value is handled once, before them (judging/judge.py, exporter/metrics).
    The same fields as a Reading (and equal to one with the same fields).
    """

    __slots__ = ()
    # only narrows the type: the field is Reading's, never None in a Measured
    value: T


def measured(reading: Reading[T]) -> Measured[T] | None:
    """The reading as a Measured one, or None when it has no value to show."""
    if reading.value is None:
        return None
    if isinstance(reading, Measured):
        return reading
    return Measured._make(reading)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, ProbeFailed | TimeoutError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ProbeRunner:
    """Runs one probe with a hard time-out in a worker thread.

    A run that does not return in time (a hung NFS statvfs, a D-Bus stall) is
    reported as a time-out and left to finish on its own; while it is still
    stuck no second run is started, so stuck threads never pile up (the
    node_exporter stale-mount guard).
    """

    def __init__(self, probe: Probe[Any], timeout: float, grace: float = 1.0) -> None:
        self.probe = probe
        self.timeout = timeout
        self.grace = grace
        self._stuck: threading.Thread | None = None
        self._stuck_since = 0.0

    @property
    def name(self) -> str:
        return self.probe.name

    def run(self) -> Reading[Any]:
        started_at = time.time()
        begin = time.monotonic()
        if self._stuck is not None:
            if self._stuck.is_alive():
                return Reading(
                    self.name,
                    started_at,
                    0.0,
                    None,
                    f"previous run started {started_at - self._stuck_since:.0f}s ago "
                    "has not returned (hung system call?); not started again",
                )
            self._stuck = None

        result: list[Reading[Any]] = []

        def work() -> None:
            result.append(run_probe(self.probe, Deadline(self.timeout)))

        worker = threading.Thread(target=work, name=f"probe-{self.name}", daemon=True)
        worker.start()
        worker.join(self.timeout + self.grace)
        if result:
            return result[0]
        self._stuck, self._stuck_since = worker, started_at
        return Reading(
            self.name,
            started_at,
            time.monotonic() - begin,
            None,
            f"timed out after {self.timeout:.3g}s",
        )


def run_probe(probe: Probe[T], deadline: Deadline) -> Reading[T]:
    """Run a probe in this thread; never raises (barring KeyboardInterrupt)."""
    started_at = time.time()
    begin = time.monotonic()
    value: Any = None
    error: str | None = None
    try:
        value = probe(deadline)
    except ProbeFailed as exc:
        value, error = exc.partial, _describe(exc)
    except (Exception, SystemExit) as exc:  # a stray sys.exit() in a probe is its bug too
        error = _describe(exc)
    return Reading(probe.name, started_at, time.monotonic() - begin, value, error)
