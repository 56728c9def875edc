"""One module per signal; each exports a probe class built from the config.

Imported by name on demand, so the check command loads only the probes it
runs (and never the web stack).
"""

from __future__ import annotations

import importlib
from typing import Any

from exporter.config import Config
from exporter.probes.reading import Probe

PROBE_CLASSES = {
    "disk": "exporter.probes.disk:DiskProbe",
    "services": "exporter.probes.services:ServicesProbe",
    "api": "exporter.probes.api:ApiProbe",
    "cert": "exporter.probes.cert:CertProbe",
    "write": "exporter.probes.write:WriteProbe",
    "storage": "exporter.probes.storage:StorageProbe",
    "sync": "exporter.probes.sync:SyncProbe",
    "standby": "exporter.probes.standby:StandbyProbe",
}


def available() -> tuple[str, ...]:
    return tuple(PROBE_CLASSES)


def build_probe(name: str, config: Config) -> Probe[Any]:
    module_name, _, class_name = PROBE_CLASSES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    probe: Probe[Any] = cls(config)
    return probe
