"""One module per signal; each exports a probe class built from the config.

Imported by name on demand, so the check command loads only the probes it
runs (and never the web stack).
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from registry_monitor.config import Config
from registry_monitor.probes.reading import Probe

if TYPE_CHECKING:
    from registry_monitor.storage.scan import Scanner

PROBE_CLASSES = {
    "disk": "registry_monitor.probes.disk:DiskProbe",
    "services": "registry_monitor.probes.services:ServicesProbe",
    "api": "registry_monitor.probes.api:ApiProbe",
    "cert": "registry_monitor.probes.cert:CertProbe",
    "write": "registry_monitor.probes.write:WriteProbe",
    "storage": "registry_monitor.probes.storage:StorageProbe",
    "sync": "registry_monitor.probes.sync:SyncProbe",
    "standby": "registry_monitor.probes.standby:StandbyProbe",
}


def available() -> tuple[str, ...]:
    return tuple(PROBE_CLASSES)


class Shared:
    """What the probes of one process share, made when first asked for: the scanner of
    the data directory. The storage and standby probes get the same one, so they share
    its caches and never scan the tree twice at once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._scanner: Scanner | None = None
        self._lock = threading.Lock()

    def scanner(self) -> Scanner:
        from registry_monitor.storage.scan import Scanner  # only probes that read the tree

        with self._lock:
            if self._scanner is None:
                c = self.config
                self._scanner = Scanner(c.data_dir, c.node, c.role, c.stale_upload_seconds)
            return self._scanner


def build_probe(name: str, config: Config, shared: Shared) -> Probe[Any]:
    module_name, _, class_name = PROBE_CLASSES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if getattr(cls, "uses_scanner", False):
        probe: Probe[Any] = cls(config, shared.scanner())
    else:
        probe = cls(config)
    return probe
