"""The two things every layer of the core shares: a probe's deadline and its failure.

Kept apart from probes/reading.py so that http, systemd and storage can use them
without importing the probe machinery above them (no probes <-> storage cycle).
"""

from __future__ import annotations

import time


class ProbeFailed(Exception):
    """Raised by a probe that could not measure; `partial` keeps what it did measure."""

    def __init__(self, message: str, partial: object = None) -> None:
        super().__init__(message)
        self.partial = partial


class Deadline:
    """The time a probe run must be done by; probes size their I/O time-outs from it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def io_timeout(self, cap: float | None = None) -> float:
        """A socket/subprocess time-out that never outlives the deadline (min 10 ms)."""
        left = self.remaining()
        return max(0.01, left if cap is None else min(cap, left))
