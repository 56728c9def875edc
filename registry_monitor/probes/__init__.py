"""One module per signal; each exports a probe class built from the config.

Which class belongs to which probe is declared in registry_monitor/probe_catalog.py.
Imported by name on demand, so the check command loads only the probes it
runs (and never the web stack).
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from registry_monitor.config import Config
from registry_monitor.probe_catalog import spec
from registry_monitor.probes.reading import Probe

if TYPE_CHECKING:
    from registry_monitor.storage.scan import Scanner


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


def build_probe(
    name: str, config: Config, shared: Shared | None = None, **options: Any
) -> Probe[Any]:
    """The probe `name`. `shared` gives a probe declared `uses_scanner` this process's one
    scanner (a new one when None); options are the probe's own keyword arguments
    (a `windowed` one's window_minutes)."""
    declared = spec(name)
    module_name, _, class_name = declared.probe_class.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if declared.uses_scanner:
        probe: Probe[Any] = cls(config, (shared or Shared(config)).scanner(), **options)
    else:
        probe = cls(config, **options)
    return probe
