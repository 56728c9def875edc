"""traffic: what users see, from nginx's access log (docs/traffic.md).

In the exporter the probe follows the log (accesslog/follow.py) and adds
every new line to counters kept for the exporter's lifetime; each run reads
what was written since the last one, bounded by its deadline, so a scrape
never waits for the log. In check_registry (`window_minutes` set) it reads
the last N minutes of the file instead.

The counters are read in the background and reset when the exporter
restarts, as counters do; the file offset, kept in state_dir, is what makes
sure a line is never counted twice. A run parses its lines as they are read,
within its deadline, into a tally of its own, added to the counters only when
the follower says they may be counted (their position kept, or no stale one
left for a restart to read them again from).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace

from registry_monitor.accesslog.follow import Follower
from registry_monitor.accesslog.formats import Parser
from registry_monitor.accesslog.tally import Tally, TrafficCounts
from registry_monitor.accesslog.window import TrafficWindow, percentile, read_window
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.config import AccessLog, Config
from registry_monitor.journal.durations import (
    JournalCounts,
    JournalDurations,
    manifest_durations_since,
)
from registry_monitor.journal.follow import JOURNALCTL

STATE_FILE = "access-log-position.json"


@dataclass(frozen=True, slots=True)
class TrafficStatus:
    path: str
    format: str
    counts: TrafficCounts
    # the newest line's time stamp; before the first line, the file's mtime
    last_line_time: float | None
    lines_read: int  # by this run
    rotations: int  # new files taken up since the exporter started
    note: str | None  # the file is missing, or the state file cannot be written
    # where durations come from: access_log, journal (the registry's request log), none
    durations: str = "access_log"
    journal: JournalCounts | None = None  # with durations from the journal

    def summary(self) -> str:
        return (
            f"{self.counts.lines_parsed} lines parsed, {self.counts.lines_skipped} skipped, "
            f"{self.rotations} rotations followed"
        )


class TrafficProbe:
    name = "traffic"

    def __init__(self, config: Config, window_minutes: float | None = None) -> None:
        if config.access_log is None:
            raise ProbeFailed("no access_log in the config: the traffic probe is off")
        self.access_log: AccessLog = config.access_log
        self.window_minutes = window_minutes
        self.backend_url = config.backend_url
        self.journalctl = JOURNALCTL  # the window's reader (the follower has its own)
        self.parser = Parser(config.access_log.format)
        self.follower = Follower(config.access_log.path, config.state_dir / STATE_FILE)
        self.tally = Tally()
        self.rotations = 0
        self._mtime: float | None = None
        self.journal = (
            JournalDurations(config.access_log.journal_unit, config.state_dir, config.backend_url)
            if config.access_log.duration_source == "journal" and window_minutes is None
            else None
        )

    def _window(self, deadline: Deadline) -> TrafficWindow:
        source = self.access_log.duration_source
        journal = source == "journal"
        window = read_window(
            self.access_log.path,
            self.access_log.format,
            self.window_minutes or 0,
            time.time(),
            Deadline(deadline.remaining() / 2) if journal else deadline,
        )
        if source == "none":
            return replace(window, durations=source, manifest_p95_seconds=None)
        if not journal:
            return replace(window, durations=source)
        durations, batch = manifest_durations_since(
            self.access_log.journal_unit,
            window.since,
            self.backend_url,
            deadline,
            self.journalctl,
        )
        window = replace(
            window,
            durations="journal",
            manifest_p95_seconds=percentile(durations, 0.95),
            timed_reads=len(durations),
            truncated=window.truncated or batch.stopped,
        )
        if batch.failed:
            raise ProbeFailed(f"durations: {batch.note}", window)
        return window

    def __call__(self, deadline: Deadline) -> TrafficStatus | TrafficWindow:
        if self.window_minutes is not None:
            return self._window(deadline)
        run = Tally()  # this run's lines: counted once their position is kept
        parse, add, skip = self.parser.parse, run.add, run.skip
        # $request_time left out when the durations come from elsewhere (or nowhere)
        timed = self.access_log.duration_source == "access_log"

        def consume(lines: list[str]) -> None:
            for line in lines:
                request = parse(line)
                if request is None:
                    skip()
                elif timed or request.duration is None:
                    add(request)
                else:
                    add(request._replace(duration=None))

        journal = None
        if self.journal is not None:
            # half the run each: a backlog in one never starves the other
            journal = self.journal.read(Deadline(deadline.remaining() / 2), self.tally)
        batch = self.follower.read(deadline, consume)
        run.skip(batch.overlong)
        if batch.countable:  # else the follower reads them again from the saved position
            self.tally.merge(run)
            self.rotations += batch.rotations
        if self.tally.last_line_time is None and self._mtime is None:
            with contextlib.suppress(OSError):
                self._mtime = self.access_log.path.stat().st_mtime
        status = TrafficStatus(
            path=str(self.access_log.path),
            format=self.access_log.format,
            counts=self.tally.snapshot(),
            last_line_time=self.tally.last_line_time or self._mtime,
            lines_read=run.lines_parsed + run.lines_skipped if batch.countable else 0,
            rotations=self.rotations,
            note=batch.note,
            durations=self.access_log.duration_source,
            journal=journal,
        )
        if self.follower.position is None:
            raise ProbeFailed(batch.note or f"access log {self.access_log.path} not open", status)
        if journal is not None and (journal.failed or not journal.countable):
            raise ProbeFailed(f"durations: {journal.note}", status)
        return status
