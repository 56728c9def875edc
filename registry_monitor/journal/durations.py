"""Request durations from the registry's journal, for the traffic probe.

The registry logs the requests it routed; nginx passes the client's Host
(`proxy_set_header Host $host`, modules/docker/templates/registry-nginx.conf.erb),
so a request that came straight to the registry's own address (the exporter's
backend probes, a curl on the host) carries that address as its Host and is left
out: the histogram is of the requests nginx's log counts. Requests the registry
never routed (an unknown path, a 401 nginx answered, a 502 nginx made) have no
entry and no duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from registry_monitor.accesslog.routes import route_of
from registry_monitor.accesslog.tally import Tally
from registry_monitor.base import Deadline
from registry_monitor.journal.entries import Completed
from registry_monitor.journal.follow import JOURNALCTL, JournalBatch, JournalFollower

STATE_FILE = "journal-cursor.json"


@dataclass(frozen=True, slots=True)
class JournalCounts:
    """Entries read since the exporter started (reset with it, like the counters)."""

    unit: str
    requests: int  # request entries whose duration was counted
    direct: int  # request entries that did not come through nginx: left out
    other: int  # entries that log no request, and lines that are no entry
    last_entry_time: float | None  # the newest request entry's time
    note: str | None  # this run's: why the journal could not be read, a state problem
    failed: bool  # this run could not read the journal
    countable: bool  # this run's entries were counted (else read again next run)


def direct_hosts(backend_url: str) -> frozenset[str]:
    """The Host values a client reaching the registry's own address sends."""
    parts = urlsplit(backend_url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    names = {f"{shown}:{port}"}
    if port == default:
        names.add(shown)
    return frozenset(names)


class JournalDurations:
    def __init__(
        self, unit: str, state_dir: Path, backend_url: str, journalctl: str = JOURNALCTL
    ) -> None:
        self.unit = unit
        self.follower = JournalFollower(unit, state_dir / STATE_FILE, journalctl)
        self.direct_hosts = direct_hosts(backend_url)
        self.requests = self.direct = self.other = 0
        self.last_entry_time: float | None = None

    def read(self, deadline: Deadline, tally: Tally) -> JournalCounts:
        """Add the durations logged since the last read to tally (once countable)."""
        run = Tally()
        counted = direct = 0
        newest: float | None = None
        skip_hosts, observe = self.direct_hosts, run.observe

        def consume(request: Completed) -> None:
            nonlocal counted, direct, newest
            if request.host in skip_hosts:
                direct += 1
                return
            observe(route_of(request.target), request.method, request.duration)
            counted += 1
            newest = request.time if newest is None else max(newest, request.time)

        batch = self.follower.read(deadline, consume)
        if batch.countable:
            tally.merge(run)
            self.requests += counted
            self.direct += direct
            self.other += batch.entries - counted - direct + batch.skipped
            if newest is not None and (self.last_entry_time or 0) < newest:
                self.last_entry_time = newest
        return JournalCounts(
            unit=self.unit,
            requests=self.requests,
            direct=self.direct,
            other=self.other,
            last_entry_time=self.last_entry_time,
            note=batch.note,
            failed=batch.failed,
            countable=batch.countable,
        )


def manifest_durations_since(
    unit: str,
    since: float,
    backend_url: str,
    deadline: Deadline,
    journalctl: str = JOURNALCTL,
) -> tuple[list[float], JournalBatch]:
    """Durations of the manifest reads (GET/HEAD) through nginx logged since a time."""
    durations: list[float] = []
    skip_hosts = direct_hosts(backend_url)

    def consume(request: Completed) -> None:
        if (
            request.time >= since
            and request.host not in skip_hosts
            and request.method in ("GET", "HEAD")
            and route_of(request.target) == "manifest"
        ):
            durations.append(request.duration)

    follower = JournalFollower(unit, Path("/nonexistent"), journalctl)  # no cursor kept
    return durations, follower.read_since(since, deadline, consume)
