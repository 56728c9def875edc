"""The levels the panels colour by: the config's `thresholds:` defaults, read from the config.

`Thresholds` in registry_monitor/config/__init__.py is the one place: check_registry and
the status page judge by it and alerts/thresholds.yaml is written from it, so a panel
turns orange and red where the check and the alerts do. Change a default there, then run
`make generated` (it rewrites dashboards/*.json too).
"""

from __future__ import annotations

from registry_monitor.config import Levels, Thresholds

__all__ = ["DANGLING_REFERENCES_CRITICAL", "THRESHOLDS", "Levels"]

THRESHOLDS = Thresholds()

# Any dangling reference (a tag or revision whose manifest or blob is gone) is
# critical: a pull of that tag fails. Not a config threshold: no amount is fine.
DANGLING_REFERENCES_CRITICAL = 1
