"""Runs each probe on its own interval in the background; keeps the last readings.

Scrapes only ever read the cache, so a hung disk or a dead registry can
never block or fail a scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from registry_monitor.probes.reading import ProbeRunner, Reading

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, runners: Iterable[tuple[ProbeRunner, float]]) -> None:
        self._plan = [(runner, interval) for runner, interval in runners]
        self._readings: dict[str, Reading[Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_error: dict[str, str | None] = {}

    @property
    def probe_names(self) -> tuple[str, ...]:
        return tuple(runner.name for runner, _ in self._plan)

    def start(self) -> None:
        for runner, interval in self._plan:
            thread = threading.Thread(
                target=self._loop, args=(runner, interval), name=f"sched-{runner.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def readings(self) -> dict[str, Reading[Any]]:
        """A snapshot: probe name -> last reading (probes not yet run are absent)."""
        with self._lock:
            return dict(self._readings)

    def run_once(self, runner: ProbeRunner) -> Reading[Any]:
        reading = runner.run()
        with self._lock:
            self._readings[runner.name] = reading
        self._log_transition(reading)
        return reading

    def _loop(self, runner: ProbeRunner, interval: float) -> None:
        broken = False
        while not self._stop.is_set():
            began = time.monotonic()
            started_at = time.time()
            try:
                self.run_once(runner)
                broken = False
            except Exception as exc:  # a bug in the runner itself must not end the loop
                if not broken:  # one traceback, not one per interval
                    log.exception("probe %s: runner failed", runner.name)
                broken = True
                # and the last good reading must not stand for this run: probe_success 0
                failed: Reading[None] = Reading(
                    runner.name,
                    started_at,
                    time.monotonic() - began,
                    None,
                    f"runner failed: {type(exc).__name__}: {exc}",
                )
                with self._lock:
                    self._readings[runner.name] = failed
                self._last_error[runner.name] = failed.error
            self._stop.wait(max(0.0, interval - (time.monotonic() - began)))

    def _log_transition(self, reading: Reading[Any]) -> None:
        """One log line when a probe starts or stops failing, not one per run."""
        before = self._last_error.get(reading.probe, None)
        first = reading.probe not in self._last_error
        self._last_error[reading.probe] = reading.error
        if reading.error and (first or before is None):
            log.warning("probe %s failing: %s", reading.probe, reading.error)
        elif reading.error is None and before is not None:
            log.info("probe %s recovered", reading.probe)
