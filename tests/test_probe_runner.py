"""The guard around every probe: errors and hangs become readings."""

import threading

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.probes.reading import ProbeRunner, run_probe


class Raises:
    name = "boom"

    def __call__(self, deadline: Deadline) -> int:
        raise KeyError("surprise")


class Exits:
    name = "exits"

    def __call__(self, deadline: Deadline) -> int:
        raise SystemExit(4)


class FailsWithPartial:
    name = "partial"

    def __call__(self, deadline: Deadline) -> int:
        raise ProbeFailed("half of it", partial=41)


class Hangs:
    name = "hang"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, deadline: Deadline) -> int:
        self.calls += 1
        self.release.wait(30)
        return 1


def test_unexpected_exception_is_a_reading_with_error() -> None:
    r = run_probe(Raises(), Deadline(1))
    assert (r.probe, r.ok, r.value, r.error) == ("boom", False, None, "KeyError: 'surprise'")


def test_a_stray_sys_exit_is_a_reading_too() -> None:
    r = ProbeRunner(Exits(), timeout=5).run()  # at once, not after the time-out
    assert (r.ok, r.error, r.duration_seconds < 5) == (False, "SystemExit: 4", True)


def test_probe_failed_keeps_partial_value() -> None:
    r = run_probe(FailsWithPartial(), Deadline(1))
    assert (r.ok, r.value, r.error) == (False, 41, "half of it")


def test_hung_probe_times_out_and_is_not_started_twice() -> None:
    probe = Hangs()
    runner = ProbeRunner(probe, timeout=0.1, grace=0.05)
    first = runner.run()
    assert (first.ok, first.value, first.error) == (False, None, "timed out after 0.1s")
    second = runner.run()
    assert second.error is not None and "has not returned" in second.error
    assert probe.calls == 1  # the stuck run was not joined by another
    probe.release.set()
    runner._stuck.join(5)  # type: ignore[union-attr]
    probe.release = threading.Event()
    third = runner.run()  # the previous run has returned: a new one starts (and hangs again)
    assert probe.calls == 2
    assert third.error == "timed out after 0.1s"
    probe.release.set()
