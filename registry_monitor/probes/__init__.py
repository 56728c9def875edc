"""One module per signal; each exports a probe class built from the config.

Imported by name on demand, so the check command loads only the probes it
runs (and never the web stack).
"""

from __future__ import annotations

import importlib
from typing import Any

from registry_monitor.config import Config
from registry_monitor.probes.reading import Probe

PROBE_CLASSES = {
    "disk": "registry_monitor.probes.disk:DiskProbe",
    "services": "registry_monitor.probes.services:ServicesProbe",
    "api": "registry_monitor.probes.api:ApiProbe",
    "cert": "registry_monitor.probes.cert:CertProbe",
    "write": "registry_monitor.probes.write:WriteProbe",
    "storage": "registry_monitor.probes.storage:StorageProbe",
    "sync": "registry_monitor.probes.sync:SyncProbe",
    "standby": "registry_monitor.probes.standby:StandbyProbe",
    "pull": "registry_monitor.probes.pull:PullProbe",
    "parity": "registry_monitor.probes.parity:ParityProbe",
}


def available() -> tuple[str, ...]:
    return tuple(PROBE_CLASSES)


def build_probe(name: str, config: Config) -> Probe[Any]:
    module_name, _, class_name = PROBE_CLASSES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    probe: Probe[Any] = cls(config)
    return probe
