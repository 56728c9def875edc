"""The alert thresholds the panels colour by: the one place the dashboards hold them.

They equal the `thresholds:` defaults of the exporter's config
(registry_monitor/config/__init__.py), which check_registry judges by and the alert rules
carry; tests/test_dashboards.py holds them to that. Change a number in the
config, then here, then run `make dashboards`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Levels:
    warning: float
    critical: float


THRESHOLDS: dict[str, Levels] = {
    "disk_used_percent": Levels(warning=80, critical=90),
    "disk_inodes_used_percent": Levels(warning=80, critical=90),
    "cert_days_left": Levels(warning=21, critical=7),
    "cert_lifetime_left_ratio": Levels(warning=0.25, critical=0.1),
    "api_latency_seconds": Levels(warning=2, critical=5),
    "standby_lag_seconds": Levels(warning=1800, critical=3600),
    "sync_success_age_seconds": Levels(warning=1800, critical=3600),
}

# Any dangling reference (a tag or revision whose manifest or blob is gone) is
# critical: a pull of that tag fails. Not a config threshold: no amount is fine.
DANGLING_REFERENCES_CRITICAL = 1
