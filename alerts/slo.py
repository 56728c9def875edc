"""The service-level objectives and their burn-rate windows: the one place they live.

    python3 -m alerts.slo            rewrite alerts/slo.yaml from the defaults below
    python3 -m alerts.configure --availability-objective 0.995 ...   a deployment's copy

Rule expressions need their windows and thresholds as literals, so
alerts/slo.yaml is written from this module (and committed, like the
dashboards' JSON); a test holds the file to it. Two SLIs, per pair
(`cluster`), from the requests nginx logged (docs/traffic.md):

- availability: the share of requests not answered 5xx. 401 challenges and
  the 404s of blob HEADs (a client asking whether to upload) are normal
  protocol flow and left out of the requests.
- latency: the share of manifest GET/HEAD served within `latency_seconds`.

The alerts are the SRE workbook's multiwindow, multi-burn-rate alerts
(chapter 5, table 5-8): a burn rate is the error ratio over the budget
(1 - objective); each window pair fires when both its long and its short
window burn faster than its factor, the short one making the alert stop soon
after the burn does. 14.4x for an hour spends 2 % of a 30-day budget.

A ratio of a handful of requests says nothing: at night one 502 among five
requests is 20 %, over every window. So each window pair also needs
`min_requests` requests (those its SLI counts) in its long window, the same
count for every window, as GitLab's SLO alerts do ("minimum sample sizes",
gitlab.com/gitlab-com/runbooks, docs/metrics-catalog/service-level-monitoring.md):
with fewer, the ratio is not judged. docs/traffic.md has the reasoning for the default and what then
pages, after how many failed requests and how fast (alerts/slo_detection.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.rule_files import write_generated

ALERTS_DIR = Path(__file__).resolve().parent
SLO_FILE = ALERTS_DIR / "slo.yaml"
# registry_monitor/accesslog/tally.py DURATION_BUCKETS: a latency threshold must be
# one of its bounds (a `le` label); a test holds the two lists equal.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
PERIOD = "30d"  # the error budget's period (dashboards: budget left)


@dataclass(frozen=True)
class Objectives:
    availability: float = 0.99  # of requests not answered 5xx
    latency: float = 0.95  # of manifest reads served within latency_seconds
    latency_seconds: float = 2.0
    # requests (of those the SLI counts) a long window must hold before its ratio can
    # alert: the fastest page then needs 15 failed requests, the 6h one 7 (docs/traffic.md)
    min_requests: int = 100

    def check(self) -> None:
        for name in ("availability", "latency"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(
                    f"{name} objective must be between 0 and 1 (exclusive), got {value}"
                )
        if self.latency_seconds not in BUCKETS:
            bounds = ", ".join(f"{b:g}" for b in BUCKETS)
            raise ValueError(
                f"latency threshold must be a histogram bucket bound ({bounds}), "
                f"got {self.latency_seconds:g}"
            )
        if not (isinstance(self.min_requests, int) and self.min_requests >= 1):
            raise ValueError(
                f"minimum of requests must be a whole number of at least 1, "
                f"got {self.min_requests!r}"
            )


@dataclass(frozen=True)
class BurnWindow:
    severity: str  # page or warning (the ticket)
    long: str
    short: str
    factor: float


WINDOWS = (
    BurnWindow("page", "1h", "5m", 14.4),
    BurnWindow("page", "6h", "30m", 6),
    BurnWindow("warning", "1d", "2h", 3),
    BurnWindow("warning", "3d", "6h", 1),
)
RANGES = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LONG_WINDOWS = tuple(w.long for w in WINDOWS)  # where the minimum of requests is counted

REQUESTS = "registry_monitor_http_requests_total"
DURATIONS = "registry_monitor_http_request_duration_seconds"
MANIFEST_READS = 'route="manifest", method=~"GET|HEAD"'
ALERTS = {"availability": "RegistryAvailabilityBudgetBurn", "latency": "RegistryLatencyBudgetBurn"}


def counted(slo: str, function: str, window: str) -> str:
    """`function` (rate or increase) of the requests the SLI counts, summed per pair.

    Availability leaves out 401 challenges and blob HEAD 404s; latency counts
    manifest reads.
    """
    if slo == "availability":
        return (
            f"sum by (cluster) (\n"
            f'  {function}({REQUESTS}{{code!="401"}}[{window}])\n'
            f'  unless {REQUESTS}{{route="blob", method="HEAD", code="404"}}\n'
            f")"
        )
    return f"sum by (cluster) ({function}({DURATIONS}_count{{{MANIFEST_READS}}}[{window}]))"


def error_ratio(slo: str, window: str, objectives: Objectives) -> str:
    if slo == "availability":
        errors = f'sum by (cluster) (rate({REQUESTS}{{code=~"5.."}}[{window}]))'
        return f"{errors}\n/\n{counted(slo, 'rate', window)}\n"
    le = str(float(objectives.latency_seconds))  # as the exporter writes it: "2.0"
    fast = f'sum by (cluster) (rate({DURATIONS}_bucket{{{MANIFEST_READS}, le="{le}"}}[{window}]))'
    return f"1 - (\n  {fast}\n  /\n  {counted(slo, 'rate', window)}\n)\n"


def request_count(slo: str, window: str) -> str:
    """The requests the SLI counted over the window: the minimum-traffic guard's measure."""
    return counted(slo, "increase", window) + "\n"


def _number(value: float) -> str:
    return f"{value:.6g}"


def what(slo: str, objectives: Objectives) -> str:
    if slo == "availability":
        return f"{_number(100 * objectives.availability)} % of requests without a 5xx"
    return (
        f"{_number(100 * objectives.latency)} % of manifest reads within "
        f"{objectives.latency_seconds:g} s"
    )


def alert(slo: str, w: BurnWindow, objectives: Objectives) -> dict[str, Any]:
    budget = 1 - getattr(objectives, slo)
    limit = _number(w.factor * budget)
    record = "registry_monitor:slo_errors:ratio_rate"
    count = "registry_monitor:slo_requests:increase"
    page = " #page" if w.severity == "page" else ""
    spent = "pulls and pushes fail now" if slo == "availability" else "pulls are slow now"
    if w.severity != "page":
        spent = "the month's budget runs out before the month does"
    return {
        "alert": ALERTS[slo],
        "expr": (
            f'{record}{w.long}{{slo="{slo}"}} > {limit}\n'
            f'and {record}{w.short}{{slo="{slo}"}} > {limit}\n'
            f'and {count}{w.long}{{slo="{slo}"}} >= {objectives.min_requests}\n'
        ),
        "labels": {
            "severity": w.severity,
            "team": "registry",
            "long_window": w.long,
            "short_window": w.short,
        },
        "annotations": {
            "summary": (
                f"Registry pair {{{{ $labels.cluster }}}} burns its {slo} error budget "
                f"{_number(w.factor)}x too fast{page}"
            ),
            "description": (
                f"Pair {{{{ $labels.cluster }}}} missed its {slo} objective "
                f"({what(slo, objectives)}) for {{{{ $value | humanizePercentage }}}} of "
                f"requests over the last {w.long} (at least {objectives.min_requests} of them), "
                f"and still over the last {w.short}: "
                f"more than {_number(w.factor)} times the {_number(100 * budget)} % budget "
                f"({_number(100 * w.factor * budget)} %). At this rate {spent}."
            ),
            "runbook_url": f"alerts/RUNBOOK.md#{ALERTS[slo].lower()}",
            "dashboard": "/d/registry-pair-overview?var-cluster={{ $labels.cluster }}",
        },
    }


def document(objectives: Objectives = Objectives()) -> dict[str, Any]:
    objectives.check()
    constants = [
        {
            "record": "registry_monitor:slo_objective",
            "expr": f"vector({_number(getattr(objectives, slo))})",
            "labels": {"slo": slo},
        }
        for slo in ("availability", "latency")
    ]
    constants.append(
        {
            "record": "registry_monitor:slo_latency_threshold_seconds",
            "expr": f"vector({objectives.latency_seconds:g})",
        }
    )
    ratios = [
        {
            "record": f"registry_monitor:slo_errors:ratio_rate{window}",
            "expr": error_ratio(slo, window, objectives),
            "labels": {"slo": slo},
        }
        for slo in ("availability", "latency")
        for window in RANGES
    ]
    counts = [
        {
            "record": f"registry_monitor:slo_requests:increase{window}",
            "expr": request_count(slo, window),
            "labels": {"slo": slo},
        }
        for slo in ("availability", "latency")
        for window in LONG_WINDOWS
    ]
    alerts = [alert(slo, w, objectives) for slo in ("availability", "latency") for w in WINDOWS]
    return {
        "groups": [
            {"name": "registry-monitor-slo-objectives", "rules": constants},
            {"name": "registry-monitor-slo-ratios", "rules": ratios + counts},
            {"name": "registry-monitor-slo-alerts", "rules": alerts},
        ]
    }


HEADER = """\
# Service-level objectives of each pair, from nginx's access log: written by
# `python3 -m alerts.slo` from alerts/slo.py (objectives, windows, burn rates);
# edit that, not this. A deployment sets other objectives with alerts.configure.
"""


def main(argv: Sequence[str] | None = None) -> int:
    description = "Write alerts/slo.yaml from alerts/slo.py."
    return write_generated(argv, "python3 -m alerts.slo", description, SLO_FILE, HEADER, document)


if __name__ == "__main__":
    sys.exit(main())
