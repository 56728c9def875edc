"""parity reading -> parity_match{item} (on the standby)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge, single_gauge
from registry_monitor.probes.parity import MAX_ITEMS, ParityStatus
from registry_monitor.probes.reading import Measured


def render(reading: Measured[ParityStatus]) -> Iterator[Metric]:
    status = reading.value
    if status.active is None:  # nothing of the active's to compare with
        return
    match = gauge(
        "parity_match",
        "1 if the item (a file's sha256 after parity_ignore_lines, a certificate's fingerprint, "
        "a version) is the same on this standby as on the active; 0 if it differs or cannot be "
        "compared; no series for an item a node may not read (the reading says how to grant it).",
        ["item"],
    )
    for m in status.matches:  # at most MAX_ITEMS: a peer's description is capped
        if not m.compared:
            continue
        match.add_metric([m.item], flag(m.match))
    yield match
    yield single_gauge(
        "parity_items_uncompared",
        f"Items of the active's description past the first {MAX_ITEMS}: neither compared "
        "nor exported as parity_match.",
        status.uncompared,
    )
