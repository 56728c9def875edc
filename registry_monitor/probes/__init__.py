"""One module per signal; each exports a probe class built from the config.

Which class belongs to which probe is declared in registry_monitor/probe_catalog.py.
Imported by name on demand, so the check command loads only the probes it
runs (and never the web stack).
"""

from __future__ import annotations

import importlib
from typing import Any

from registry_monitor.config import Config
from registry_monitor.probe_catalog import spec
from registry_monitor.probes.reading import Probe


def build_probe(name: str, config: Config, **options: Any) -> Probe[Any]:
    """The probe `name`; options are its own keyword arguments (traffic: window_minutes)."""
    module_name, _, class_name = spec(name).probe_class.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    probe: Probe[Any] = cls(config, **options)
    return probe
