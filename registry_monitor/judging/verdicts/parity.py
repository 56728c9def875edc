"""parity: this node's configuration against the active's, item by item (digests only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import floor
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, failed, refuse
from registry_monitor.probes.reading import Measured
from registry_monitor.times import when

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.parity import ParityItem, ParityStatus


def unreadable(item: ParityItem) -> bool:
    from registry_monitor.probes.parity import unreadable as not_readable

    return not_readable(item)


SAME = floor(1)


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "parity", "it has no thresholds: an item matches the active's or not")
    return {}


def judge(reading: Measured[ParityStatus], limits: Limits) -> Verdict:
    status = reading.value
    if reading.error and status.active is None and status.local.role == "standby":
        return failed(reading)  # this node alone, with nothing of the active to compare
    j = VerdictBuilder("parity")
    if status.active is None:  # the active describes itself for the standby
        if not status.shared:
            j.add(State.OK, "no api_token: /api/parity is not served, the standby cannot compare")
        for item in status.local.items:
            if item.error and (item.kind == "cert" or unreadable(item)):
                # the cert probe's to judge; or a file this user may not read, said so
                j.add(State.OK, f"{item.item}: not described ({item.error})")
            elif item.error:
                j.add(State.WARNING, f"{item.item}: {item.error} (the standby cannot compare it)")
            else:
                j.add(State.OK, f"{item.item}: {item.digest}")
        return j.verdict(f"{len(status.local.items)} items described for the standby")
    for m in status.matches:
        if m.match:
            j.add(State.OK, f"{m.item} as on {status.active.node}")
        elif not m.compared:
            j.add(State.OK, f"{m.item} {m.reason}")
            continue
        else:
            j.add(State.WARNING, f"{m.item} differs from {status.active.node}: {m.reason}")
        j.perf(f"{m.item}_match", int(m.match), warning=SAME, minimum=0, maximum=1)
    if status.uncompared:
        j.add(
            State.WARNING,
            f"{status.uncompared} more items of {status.active.node} not compared "
            "(past the cap of items compared)",
        )
    compared = sum(m.compared for m in status.matches)
    if reading.error:  # the active did not answer: compared with its last description kept
        kept = when(status.active.generated_at)
        j.add(State.WARNING, f"compared with the active's description of {kept}: {reading.error}")
        return j.verdict(f"{compared} items as on {status.active.node} at {kept}")
    return j.verdict(f"{compared} items as on {status.active.node}")
