"""Could the standby take over now? One judgement over several probes' readings.

The operators' question before switching DNS: "can I fail over now, and what
would be lost?" It is answered from the readings of the probes that each
prove one part (standby, storage, pull, parity, cert, sync, disk), so the
exporter (from its cached readings, at render time) and `check_registry
failover` (running those probes once) give the same answer from the same
function. Each reason that blocks a failover is named; a part that could not
be measured blocks under its own reason too ("not measured: ..."): readiness
is proven, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from registry_monitor.config import Config
from registry_monitor.probe_catalog import FAILOVER_PROBES
from registry_monitor.probes.cert import CertsStatus
from registry_monitor.probes.disk import DiskUsage
from registry_monitor.probes.parity import ParityStatus
from registry_monitor.probes.pull import PullStatus
from registry_monitor.probes.reading import Reading
from registry_monitor.probes.standby import StandbyStatus
from registry_monitor.probes.storage import StorageStatus
from registry_monitor.probes.sync import SyncStatus
from registry_monitor.times import clock, hour_minute

# The probes whose readings the judgement reads, in the order they are judged: those the
# catalog gives a `failover_part` (each has its part in PARTS below).
PROBES = FAILOVER_PROBES

# Every reason a failover can be blocked for: the `reason` label's values.
REASONS = (
    "standby_not_compared",
    "lag_over_critical",
    "divergent_content",
    "dangling_references",
    "pull_failing",
    "parity_mismatch",
    "foreign_owner_files",
    "cert_invalid",
    "cert_key_mismatch",
    "sync_running",
    "disk_too_small",
)


@dataclass(frozen=True, slots=True)
class Blocker:
    reason: str  # one of REASONS
    detail: str


@dataclass(frozen=True, slots=True)
class ActiveGone:
    """The active did not answer: the loss is what it told at its last answer."""

    since: float  # its last answer (this node's clock)
    known_at: float  # the instant its content was as compared then
    lacking: tuple[str, ...]  # repository:tag lacked then, the first ten
    error: str  # why it could not be asked now


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    blockers: tuple[Blocker, ...]
    lost_tags: int | None  # tags of the active a failover now would lose; None: unknown
    lag_seconds: float | None
    oldest_lost_push: float | None  # unix time (this node's clock) of the oldest lost push
    lost_examples: tuple[str, ...]
    notes: tuple[str, ...]  # worth knowing, not blocking
    remaining: tuple[str, ...]  # the checklist's steps still to do
    active_gone: ActiveGone | None = None  # judged from what the active said last

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.reason for b in self.blockers))


def _value(readings: Mapping[str, Reading[Any]], name: str, kind: type) -> tuple[Any, str | None]:
    """(the reading's value if it is of `kind`, else None; why it is missing)."""
    reading = readings.get(name)
    if reading is None:
        return None, f"the {name} probe has not run"
    value = reading.value
    if isinstance(value, kind):
        return value, reading.error
    return None, f"the {name} probe failed: {reading.error or 'no reading'}"


def tags(n: int) -> str:
    return f"{n} tag" if n == 1 else f"{n} tags"


class _Assessment:
    def __init__(self, config: Config, readings: Mapping[str, Reading[Any]], now: float) -> None:
        self.config = config
        self.readings = readings
        self.now = now
        self.blockers: list[Blocker] = []
        self.notes: list[str] = []
        self.remaining: list[str] = []
        self.lost: int | None = None
        self.lag: float | None = None
        self.oldest: float | None = None
        self.examples: tuple[str, ...] = ()
        self.gone: ActiveGone | None = None
        self.timer: str | None = None  # the sync timer, when active here

    def block(self, reason: str, detail: str) -> None:
        self.blockers.append(Blocker(reason, detail))

    def standby(self) -> None:
        s, why = _value(self.readings, "standby", StandbyStatus)
        if s is None:
            self.block("standby_not_compared", f"the comparison with the active did not run: {why}")
            return
        self.lost = s.missing_tags + s.mismatched_tags
        oldest = s.oldest_missing_push
        if oldest is None and self.lost:  # a status that did not say: taken back from the lag
            oldest = self.now - s.lag_seconds
        self.oldest = oldest if self.lost else None
        # the recovery point now: the age of the oldest lacking push grows with the clock
        self.lag = max(0.0, self.now - self.oldest) if self.oldest is not None else s.lag_seconds
        self.examples = s.examples
        lag = self.lag
        if why is not None:  # the active did not answer: what it said last, and since when
            self.gone = ActiveGone(s.answered_at, s.known_at, s.lacking, why)
            lag = max(0.0, s.answered_at - self.oldest) if self.oldest is not None else 0.0
        critical = self.config.thresholds.standby_lag_seconds.critical
        if lag > critical:
            self.block(
                "lag_over_critical",
                f"lag {lag:.0f}s is over {critical:g}s: {self.lost} tags would be lost",
            )
        if s.divergent_tags or s.divergent_repositories:
            self.block(
                "divergent_content",
                f"{s.divergent_tags} tags and {s.divergent_repositories} repositories here "
                f"differ from the active {s.active_node} (only here, or moved here)",
            )

    def storage(self) -> None:
        s, why = _value(self.readings, "storage", StorageStatus)
        if s is None:
            self.block("dangling_references", f"not measured: {why}")
            self.block("foreign_owner_files", f"not measured: {why}")
            return
        if s.scan.dangling_references:
            first = f" (e.g. {s.scan.dangling_examples[0]})" if s.scan.dangling_examples else ""
            self.block(
                "dangling_references",
                f"{s.scan.dangling_references} tags or revisions here lack a manifest or "
                f"blob: their pulls would fail{first}",
            )
        foreign = s.owners.foreign_files
        if foreign:
            self.block(
                "foreign_owner_files",
                f"{foreign} files not owned by {s.owners.user}: pushes into them would fail",
            )
        elif s.owners.checked and foreign is None:
            self.notes.append("the owner sweep has not finished a pass yet")

    def pull(self) -> None:
        s, why = _value(self.readings, "pull", PullStatus)
        if s is None:
            self.block("pull_failing", f"not measured: {why}")
            return
        if not s.images:
            self.notes.append("no canary_images: no image was pulled through nginx")
        for image in s.images:
            if image.failed:
                self.block("pull_failing", f"pull of {image.image} failed: {image.error}")
            elif image.cut_short:
                self.notes.append(
                    f"pull of {image.image} cut short by pull_max_bytes_per_run: "
                    "not every layer verified this run"
                )

    def parity(self) -> None:
        s, why = _value(self.readings, "parity", ParityStatus)
        if s is None or s.active is None:
            reason = why or "the active's description was not fetched"
            self.block("parity_mismatch", f"not compared with the active: {reason}")
            return
        for m in s.mismatches:
            self.block("parity_mismatch", f"{m.item} differs from the active: {m.reason}")
        if s.uncompared:
            self.block("parity_mismatch", f"{s.uncompared} items of the active not compared")
        if why is not None:
            self.notes.append(
                f"parity judged against the active's description of {clock(s.active.generated_at)}"
                " (its clock), kept from its last answer"
            )

    def cert(self) -> None:
        s, why = _value(self.readings, "cert", CertsStatus)
        if s is None:
            self.block("cert_invalid", f"not measured: {why}")
            return
        for c in s.certs:
            name = "served certificate" if c.source == "served" else c.target
            if not c.fetched:
                if c.source == "served":
                    self.block("cert_invalid", f"{name}: {c.error}")
                else:
                    self.notes.append(f"{name}: {c.error}")
            elif c.valid is not True:
                self.block("cert_invalid", f"{name} is not valid: {c.error}")
            elif c.name_matches is False:
                self.block("cert_invalid", f"{name} does not cover {c.host}")
        if s.key is not None:
            if s.key.state == "mismatch":
                self.block("cert_key_mismatch", f"key {s.key.path} does not match the certificate")
            elif not s.key.readable:
                self.notes.append(f"key {s.key.path} not checked: {s.key.state} ({s.key.error})")

    def sync(self) -> None:
        s, why = _value(self.readings, "sync", SyncStatus)
        if s is None:
            self.block("sync_running", f"cannot tell whether a sync runs: {why}")
            return
        if s.running:
            self.block("sync_running", f"{s.unit} is running: let it finish, then look again")
        self.timer = s.timer if s.timer_active else None

    def disk(self) -> None:
        d, why = _value(self.readings, "disk", DiskUsage)
        if d is None:
            self.block("disk_too_small", f"not measured: {why}")
            return
        parity, _ = _value(self.readings, "parity", ParityStatus)
        storage, _ = _value(self.readings, "storage", StorageStatus)
        theirs = parity.active_blob_bytes if parity is not None else None
        if theirs is None or storage is None:
            self.notes.append("the active's content size is unknown: disk judged as it is")
        needed = max(0, theirs - storage.scan.blob_bytes) if theirs and storage else 0
        critical = self.config.thresholds.disk_used_percent.critical
        after = d.used_percent_with(needed)
        if after is None:  # nothing usable: it cannot hold the active's content
            after = 100.0
        if after > critical:
            self.block(
                "disk_too_small",
                f"with the active's content ({needed / 2**30:.1f} GiB more) the disk would be "
                f"{after:.1f}% used, over the {critical:g}% critical level",
            )

    def result(self) -> Readiness:
        # In an order puppet cannot undo: its agent keeps the sync timer enabled and running
        # on the standby (systemd::timer::job from rsync::quickdatacopy) until hiera names
        # this node the active; the timer must never again copy the old active onto this one.
        if self.config.role == "standby":
            self.remaining.append(
                "keep puppet from starting the sync again here: sudo puppet agent --disable "
                '"failover to this node"'
            )
            if self.timer is not None:
                self.remaining.append(
                    f"stop the sync on this node, the new active: sudo systemctl stop {self.timer}"
                    f" {self.config.sync_unit}"
                )
        self.remaining.append("point the public name at this node (DNS or floating IP)")
        if self.config.role == "standby":
            self.remaining += [
                "in hiera, profile::toolforge::docker::registry::active_node: this node, "
                "standby_node: the old active; then here sudo puppet agent --enable and "
                "sudo run-puppet-agent (puppet removes the sync timer on the active)",
                "swap role: role: active here and role: standby on the old active, "
                "then restart both exporters",
            ]
        return Readiness(
            ready=not self.blockers,
            blockers=tuple(self.blockers),
            lost_tags=self.lost,
            lag_seconds=self.lag,
            oldest_lost_push=self.oldest,
            lost_examples=self.examples,
            notes=tuple(self.notes),
            remaining=tuple(self.remaining),
            active_gone=self.gone,
        )


# What judges each probe's reading, by name; tests/test_probe_catalog.py holds the names to
# the catalog. Not an order: the parts are judged in PROBES' order, the catalog's.
PARTS: dict[str, Callable[[_Assessment], None]] = {
    "cert": _Assessment.cert,
    "disk": _Assessment.disk,
    "parity": _Assessment.parity,
    "pull": _Assessment.pull,
    "standby": _Assessment.standby,
    "storage": _Assessment.storage,
    "sync": _Assessment.sync,
}


def assess_readiness(
    config: Config, readings: Mapping[str, Reading[Any]], now: float | None = None
) -> Readiness:
    """Readiness of this node, the standby, to become the active now."""
    assessment = _Assessment(config, readings, time.time() if now is None else now)
    for name in PROBES:
        PARTS[name](assessment)
    return assessment.result()


def gone_text(r: Readiness) -> str:
    """What is known, and since when, of an active that does not answer."""
    g = r.active_gone
    assert g is not None
    lost = r.lost_tags or 0
    names = ", ".join(g.lacking)
    if lost > len(g.lacking):
        names += f" and {lost - len(g.lacking)} more"
    lacked = f"{tags(lost)}: {names}" if lost and names else tags(lost)
    return (
        f"the active has not answered since {clock(g.since)} UTC; at its last answer "
        f"({clock(g.known_at)}) this standby lacked {lacked}; anything pushed after "
        f"{clock(g.known_at)} is unknown"
    )


def headline(r: Readiness) -> str:
    """The one line for people: what a failover now loses, or what blocks it."""
    if not r.ready:
        text = "not ready: " + "; ".join(f"{b.reason}: {b.detail}" for b in r.blockers)
        return text + (f"; {gone_text(r)}" if r.active_gone is not None else "")
    if r.active_gone is not None:
        return gone_text(r)
    lag = f"lag {r.lag_seconds:.0f}s" if r.lag_seconds is not None else "lag unknown"
    if r.lost_tags and r.oldest_lost_push is not None:
        return (
            f"ready: a failover now loses {r.lost_tags} tags pushed since "
            f"{hour_minute(r.oldest_lost_push)} ({lag})"
        )
    return f"ready: a failover now loses 0 tags ({lag})"
