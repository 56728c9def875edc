"""Write alerts/slo_test.yaml: promtool cases for every window pair of both objectives.

    python3 -m alerts.slo_tests

Three days of series a case at one sample a minute are too long to write by
hand: each case is a list of phases (minutes, share of bad requests), turned
into counters here, with the alerts expected from the same arithmetic the
rules do (the error ratio over each window) and their annotations as
alerts/slo.py writes them. A test holds the committed file to this module.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alerts.slo import ALERTS, WINDOWS, Objectives, alert

TEST_FILE = Path(__file__).resolve().parent / "slo_test.yaml"
DAY = 1440
PER_MINUTE = 1000  # requests a minute in every case
CHALLENGES, HEAD_404S = 400, 300  # a minute, left out of the availability SLI
TARGET = 'job="registry-monitor",cluster="{c}",instance="reg-{c}1:9623"'
WINDOW_MINUTES = {"1h": 60, "6h": 360, "1d": DAY, "3d": 3 * DAY}


@dataclass(frozen=True)
class Case:
    title: str
    slo: str  # availability or latency
    phases: tuple[tuple[int, float], ...]  # (minutes, share of bad requests), oldest first
    fires: tuple[str, ...]  # long windows of the pairs expected to fire


def counter(phases: tuple[tuple[int, float], ...], per_minute: Any) -> str:
    """promtool's expanding notation, one sample a minute from 0: `0+a x n  v+b x m ...`."""
    parts, value = [], 0
    for index, (minutes, share) in enumerate(phases):
        step = per_minute(share)
        if index == 0:
            parts.append(f"{value}+{step}x{minutes}")
            value += step * minutes
        else:
            value += step
            parts.append(f"{value}+{step}x{minutes - 1}")
            value += step * (minutes - 1)
    return " ".join(parts)


def series(case: Case, cluster: str) -> list[dict[str, str]]:
    phases = case.phases if cluster == "a" else ((sum(m for m, _ in case.phases), 0.0),)
    target = TARGET.format(c=cluster)
    if case.slo == "availability":
        kinds = (
            (
                'route="manifest",method="GET",code="200"',
                lambda s: PER_MINUTE - round(PER_MINUTE * s),
            ),
            ('route="manifest",method="GET",code="503"', lambda s: round(PER_MINUTE * s)),
            ('route="base",method="GET",code="401"', lambda s: CHALLENGES),
            ('route="blob",method="HEAD",code="404"', lambda s: HEAD_404S),
        )
        name = "registry_monitor_http_requests_total"
        return [
            {"series": f"{name}{{{target},{labels}}}", "values": counter(phases, count)}
            for labels, count in kinds
        ]
    base = "registry_monitor_http_request_duration_seconds"
    reads = 'route="manifest",method="GET"'
    le = str(float(Objectives().latency_seconds))
    return [
        {
            "series": f'{base}_bucket{{{target},{reads},le="{le}"}}',
            "values": counter(phases, lambda s: PER_MINUTE - round(PER_MINUTE * s)),
        },
        {
            "series": f"{base}_count{{{target},{reads}}}",
            "values": counter(phases, lambda s: PER_MINUTE),
        },
    ]


def bad_share(phases: tuple[tuple[int, float], ...], minutes: int) -> float:
    """The share of bad requests over the last `minutes` (every minute has PER_MINUTE)."""
    left, bad = minutes, 0.0
    for length, share in reversed(phases):
        taken = min(left, length)
        bad, left = bad + share * taken, left - taken
        if not left:
            break
    return bad / (minutes - left)


def expected(case: Case) -> list[dict[str, Any]]:
    out = []
    for window in WINDOWS:
        if window.long not in case.fires:
            continue
        rule = alert(case.slo, window, Objectives())
        share = bad_share(case.phases, WINDOW_MINUTES[window.long])
        notes = {
            key: str(text)
            .replace("{{ $labels.cluster }}", "a")
            .replace("{{ $value | humanizePercentage }}", f"{100 * share:.4g}%")
            for key, text in rule["annotations"].items()
        }
        labels = {**rule["labels"], "cluster": "a", "slo": case.slo}
        out.append({"exp_labels": labels, "exp_annotations": notes})
    return out


def duration(minutes: int) -> str:
    days, rest = divmod(minutes, DAY)
    hours, mins = divmod(rest, 60)
    text = (
        (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    )
    return text or "0m"


CLEAN = 3 * DAY  # three clean days first, so the long windows hold the burn alone
CASES = (
    Case(
        "availability 1h/5m: 20 % 5xx for an hour after 3 clean days pages",
        "availability",
        ((CLEAN, 0), (60, 0.2)),
        ("1h",),
    ),
    Case(
        "availability 6h/30m: 8 % 5xx for 6 hours pages (1h at 8 % is under 14.4x)",
        "availability",
        ((CLEAN, 0), (360, 0.08)),
        ("6h",),
    ),
    Case(
        "availability 1d/2h: 4 % 5xx for a day tickets (and spends a third of the budget: "
        "3d/6h too)",
        "availability",
        ((CLEAN, 0), (DAY, 0.04)),
        ("1d", "3d"),
    ),
    Case(
        "availability 3d/6h: 1.5 % 5xx for 3 days tickets",
        "availability",
        ((CLEAN, 0.015),),
        ("3d",),
    ),
    Case(
        "availability noise: the burst ended 10 minutes ago, the short window clears it",
        "availability",
        ((CLEAN - 10, 0), (60, 0.2), (10, 0)),
        (),
    ),
    Case(
        "availability noise: 0.9 % 5xx for 3 days with 401 challenges and blob HEAD 404s is "
        "within the objective",
        "availability",
        ((CLEAN, 0.009),),
        (),
    ),
    Case(
        "availability noise: 10 % 5xx for an hour is under the page's 14.4x",
        "availability",
        ((CLEAN, 0), (60, 0.1)),
        (),
    ),
    Case(
        "latency 1h/5m: 80 % of manifest reads slow for an hour pages",
        "latency",
        ((CLEAN, 0), (60, 0.8)),
        ("1h",),
    ),
    Case(
        "latency 6h/30m: 40 % slow for 6 hours pages", "latency", ((CLEAN, 0), (360, 0.4)), ("6h",)
    ),
    Case(
        "latency 1d/2h: 20 % slow for a day tickets (3d/6h too)",
        "latency",
        ((CLEAN, 0), (DAY, 0.2)),
        ("1d", "3d"),
    ),
    Case("latency 3d/6h: 7 % slow for 3 days tickets", "latency", ((CLEAN, 0.07),), ("3d",)),
    Case(
        "latency noise: the slow hour ended 10 minutes ago",
        "latency",
        ((CLEAN - 10, 0), (60, 0.8), (10, 0)),
        (),
    ),
    Case(
        "latency noise: 4 % slow for 3 days is within the objective",
        "latency",
        ((CLEAN, 0.04),),
        (),
    ),
)

HEADER = """\
# Written by `python3 -m alerts.slo_tests` from alerts/slo_tests.py: edit that.
# Every window pair of both objectives, firing alone where the arithmetic allows it, and
# near-misses that must stay silent. Cluster "b" runs clean beside "a" in every case: an
# objective is judged per pair. 1000 requests a minute, plus 400 401 challenges and 300
# blob HEAD 404s that the availability SLI leaves out (counted, they would dilute the 5xx).
# The budgets: availability 1 % (page 14.4 %, 6 %; ticket 3 %, 1 %), latency 5 %
# (page 72 %, 30 %; ticket 15 %, 5 %). The alerts have no for:, so rules are evaluated
# hourly here (every case ends on the hour), which keeps three days of series fast; the
# ratios are recorded before the alerts read them in each round (group_eval_order), as a
# Prometheus evaluating every minute has them at most a minute old.
"""


def document() -> dict[str, Any]:
    tests = [
        {
            "name": case.title,
            "interval": "1m",
            "input_series": series(case, "a") + series(case, "b"),
            "alert_rule_test": [
                {
                    "eval_time": duration(sum(m for m, _ in case.phases)),
                    "alertname": ALERTS[case.slo],
                    "exp_alerts": expected(case),
                }
            ],
        }
        for case in CASES
    ]
    return {
        "rule_files": ["slo.yaml"],
        "evaluation_interval": "1h",
        "group_eval_order": [
            "registry-monitor-slo-objectives",
            "registry-monitor-slo-ratios",
            "registry-monitor-slo-alerts",
        ],
        "tests": tests,
    }


def text() -> str:
    return HEADER + yaml.safe_dump(document(), sort_keys=False, width=200)


def main() -> int:
    TEST_FILE.write_text(text())
    print(TEST_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
