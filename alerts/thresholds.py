"""The alert thresholds: alerts/thresholds.yaml is written from here.

    python3 -m alerts.thresholds     rewrite alerts/thresholds.yaml (`make generated` runs it)
    python3 -m alerts.configure --config /etc/registry-monitor/config.yaml ...   a deployment's

Every threshold is a recording rule `registry_monitor:threshold{threshold, level}`
holding a constant; the alert rules compare against it with `on () group_left ()`.
Two kinds, each written once:

- the config's `Thresholds` (registry_monitor/config/__init__.py): check_registry and
  the status page judge by them, the dashboards colour by them, and the rules carry
  their defaults (or a deployment's own, through alerts.configure --config). Change a
  default there.
- ALERT_ONLY below: levels judged over Prometheus's history (an hour's restarts, a
  fill-up forecast, a scan against the last hour's highest, how long a series stays
  put), which one run of check_registry or one look at the status page does not have.
  As config keys they would look like they tune the check, which never reads them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from alerts.rule_files import ALERTS_DIR, write_generated
from registry_monitor.config import Levels, Thresholds

THRESHOLDS_FILE = ALERTS_DIR / "thresholds.yaml"
GROUP = "registry-monitor-thresholds"
DEFAULTS = Thresholds()  # the config's defaults: what the committed file holds


class AlertLevel(NamedTuple):
    threshold: str
    level: str  # warning, critical or info
    value: float


ALERT_ONLY: tuple[AlertLevel, ...] = (
    # Fill-up prediction applies only below this much available space, in percent
    # (node-mixin's fsSpaceFillingUp{Warning,Critical}Threshold; disk.yaml).
    AlertLevel("disk_filling_avail_percent", "warning", 40),
    AlertLevel("disk_filling_avail_percent", "critical", 20),
    # More (re)starts than this within an hour is flapping (services.yaml).
    AlertLevel("service_restarts_per_hour", "warning", 2),
    # A reading older than this is stale: the slowest probes run every 300 s (exporter.yaml).
    AlertLevel("probe_age_seconds", "warning", 900),
    # Abandoned uploads left in _uploads/: more than this is piling up (storage.yaml).
    AlertLevel("storage_stale_uploads", "warning", 10),
    # Share of the filesystem that garbage collection would free (storage.yaml).
    AlertLevel("storage_reclaimable_percent", "info", 20),
    # Share of stored tags, repositories or blob bytes lost within an hour that pages
    # (storage.yaml RegistryContentShrank).
    AlertLevel("storage_shrink_percent", "critical", 25),
    # Seconds without a new access log line while nginx runs (traffic.yaml).
    AlertLevel("access_log_silence_seconds", "warning", 900),
)

HEADER = """\
# Alert thresholds, one recording rule each: written by `make generated`
# (python3 -m alerts.thresholds). Edit the sources, not this file: the config's
# `Thresholds` (registry_monitor/config/__init__.py: check_registry and the status
# page judge by the same numbers) and the alert-only levels in alerts/thresholds.py.
# A deployment writes its own copy from its config with
# `python3 -m alerts.configure --config <config.yaml>`. Load this file with the other
# rule files: without it no threshold alert can fire (RegistryAlertThresholdsMissing).
"""


def config_levels(thresholds: Thresholds) -> list[AlertLevel]:
    """The config's thresholds as rules' levels, in the config's order."""
    found = []
    for name in thresholds._fields:
        levels: Levels = getattr(thresholds, name)
        found.append(AlertLevel(name, "warning", levels.warning))
        found.append(AlertLevel(name, "critical", levels.critical))
    return found


def literal(value: float) -> str:
    """A PromQL number: whole numbers without a point (80, not 80.0), others exactly."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number (got {value!r})")
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def document(thresholds: Thresholds = DEFAULTS) -> dict[str, Any]:
    """The rule file: the config's thresholds (defaults unless given), then the alert-only."""
    rules = []
    for t in (*config_levels(thresholds), *ALERT_ONLY):
        try:
            expr = f"vector({literal(t.value)})"
        except ValueError as exc:
            raise ValueError(f"thresholds.{t.threshold}.{t.level}: {exc}") from None
        rules.append(
            {
                "record": "registry_monitor:threshold",
                "expr": expr,
                "labels": {"threshold": t.threshold, "level": t.level},
            }
        )
    return {"groups": [{"name": GROUP, "rules": rules}]}


def main(argv: Sequence[str] | None = None) -> int:
    description = (
        "Write alerts/thresholds.yaml from the config's Thresholds defaults "
        "and alerts/thresholds.py's alert-only levels."
    )
    return write_generated(
        argv, "python3 -m alerts.thresholds", description, THRESHOLDS_FILE, HEADER, document
    )


if __name__ == "__main__":
    sys.exit(main())
