"""The storage probe as the exporter runs it: its inventory's wire form written after each
scan, in the probe's own thread, so that `/api/inventory` serves it without writing it
on the event loop. The check command runs the bare probe and never writes one."""

from __future__ import annotations

import logging
from typing import Any

from registry_monitor.base import Deadline
from registry_monitor.probes.reading import Probe
from registry_monitor.storage import inventory_wire

log = logging.getLogger(__name__)


class WritingWireForm:
    def __init__(self, probe: Probe[Any]) -> None:
        self.probe = probe
        self.name = probe.name

    def __call__(self, deadline: Deadline) -> Any:
        value = self.probe(deadline)
        inventory = getattr(value, "inventory", None)
        if inventory is not None:
            try:
                inventory_wire.wire_form(
                    inventory
                )  # once per change: an unchanged scan keeps the inventory
            except OSError as exc:  # the request will say so; the reading stands
                log.warning("cannot write the inventory's wire form: %s", exc)
        return value
