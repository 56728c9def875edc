"""Write alerts/slo_test.yaml: promtool cases for every window pair of both objectives.

    python3 -m alerts.slo_tests

Three days of series a case at one sample a minute are too long to write by
hand: each case is a list of phases (minutes, share of bad requests, requests
a minute), turned into counters here, with the alerts expected from the same
arithmetic the rules do (the error ratio over each window, the requests in
the long one) and their annotations as alerts/slo.py writes them. A test holds
the committed file to this module, and each case's expected alerts to that
arithmetic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from alerts.slo import ALERTS, WINDOWS, BurnWindow, Objectives, alert

TEST_FILE = Path(__file__).resolve().parent / "slo_test.yaml"
DAY = 1440
PER_MINUTE = 1000  # requests a minute, unless a phase says otherwise
# 401 challenges and blob HEAD 404s per request counted, left out of the availability SLI
CHALLENGES, HEAD_404S = 0.4, 0.3
TARGET = 'job="registry-monitor",cluster="{c}",instance="reg-{c}1:9623"'
MINUTES = {"5m": 5, "30m": 30, "1h": 60, "2h": 120, "6h": 360, "1d": DAY, "3d": 3 * DAY}


class Phase(NamedTuple):
    minutes: int
    share: float  # of bad requests (5xx, or manifest reads over the threshold)
    per_minute: float = PER_MINUTE  # requests the SLI counts, a minute


@dataclass(frozen=True)
class Case:
    title: str
    slo: str  # availability or latency
    phases: tuple[Phase, ...]  # oldest first
    fires: tuple[str, ...]  # long windows of the pairs expected to fire


def single(minutes: int, requests: dict[int, float]) -> tuple[Phase, ...]:
    """`minutes` with one request at each minute given (its share: 1 bad, 0 good), else none."""
    phases, quiet = [], 0
    for minute in range(1, minutes + 1):
        if minute in requests:
            phases += [Phase(quiet, 0, 0)] if quiet else []
            phases.append(Phase(1, requests[minute], 1))
            quiet = 0
        else:
            quiet += 1
    return (*phases, *([Phase(quiet, 0, 0)] if quiet else []))


def _value(number: float) -> str:
    return f"{number:.12g}"  # whole counts as such; a fraction (5 an hour) to 12 digits


def counter(phases: tuple[Phase, ...], step_of: Callable[[Phase], float]) -> str:
    """promtool's expanding notation, one sample a minute from 0: `0+a x n  v+b x m ...`."""
    parts, value = [], 0.0
    for index, phase in enumerate(phases):
        step = step_of(phase)
        if index == 0:
            parts.append(f"0+{_value(step)}x{phase.minutes}")
            value += step * phase.minutes
            continue
        value += step
        parts.append(
            f"{_value(value)}+{_value(step)}x{phase.minutes - 1}"
            if phase.minutes > 1
            else _value(value)
        )
        value += step * (phase.minutes - 1)
    return " ".join(parts)


def length(phases: tuple[Phase, ...]) -> int:
    return sum(p.minutes for p in phases)


def series(case: Case, cluster: str) -> list[dict[str, str]]:
    phases = case.phases if cluster == "a" else (Phase(length(case.phases), 0),)
    target = TARGET.format(c=cluster)
    kinds: tuple[tuple[str, Callable[[Phase], float]], ...]
    if case.slo == "availability":

        def requests(route: str, method: str, code: str) -> str:
            labels = f'route="{route}",method="{method}",code="{code}"'
            return f"registry_monitor_http_requests_total{{{target},{labels}}}"

        kinds = (
            (requests("manifest", "GET", "200"), lambda p: p.per_minute * (1 - p.share)),
            (requests("manifest", "GET", "502"), lambda p: p.per_minute * p.share),
            (requests("base", "GET", "401"), lambda p: p.per_minute * CHALLENGES),
            (requests("blob", "HEAD", "404"), lambda p: p.per_minute * HEAD_404S),
        )
    else:
        base = "registry_monitor_http_request_duration_seconds"
        reads = f'{target},route="manifest",method="GET"'
        le = str(float(Objectives().latency_seconds))
        kinds = (
            (f'{base}_bucket{{{reads},le="{le}"}}', lambda p: p.per_minute * (1 - p.share)),
            (f"{base}_count{{{reads}}}", lambda p: p.per_minute),
        )
    return [{"series": name, "values": counter(phases, count)} for name, count in kinds]


def tally(phases: tuple[Phase, ...], minutes: int) -> tuple[float, float]:
    """Bad and counted requests over the last `minutes` (a window of them holds as many steps)."""
    left, bad, requests = minutes, 0.0, 0.0
    for phase in reversed(phases):
        taken = min(left, phase.minutes)
        bad += phase.share * phase.per_minute * taken
        requests += phase.per_minute * taken
        left -= taken
        if not left:
            break
    return bad, requests


def fires(slo: str, window: BurnWindow, phases: tuple[Phase, ...]) -> bool:
    """The rule's arithmetic: both windows over the burn limit, the long one holding enough."""
    objectives = Objectives()
    limit = window.factor * (1 - getattr(objectives, slo))
    bad, requests = tally(phases, MINUTES[window.long])
    recent_bad, recent = tally(phases, MINUTES[window.short])
    return (
        requests >= objectives.min_requests
        and bad > limit * requests
        and recent_bad > limit * recent
        and recent > 0
    )


def expected(case: Case) -> list[dict[str, Any]]:
    out = []
    for window in WINDOWS:
        if window.long not in case.fires:
            continue
        rule = alert(case.slo, window, Objectives())
        bad, requests = tally(case.phases, MINUTES[window.long])
        notes = {
            key: str(text)
            .replace("{{ $labels.cluster }}", "a")
            .replace("{{ $value | humanizePercentage }}", f"{100 * bad / requests:.4g}%")
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
QUIET = Phase(CLEAN, 0, 0)  # three days without a request


def outage(minutes: int, per_minute: float, share: float = 1.0) -> tuple[Phase, ...]:
    """Steady traffic for 3 days and an hour, the last `minutes` of it failing (`share`)."""
    return (Phase(CLEAN + 60 - minutes, 0, per_minute), Phase(minutes, share, per_minute))


CASES = (
    Case(
        "availability 1h/5m: 20 % 5xx for an hour after 3 clean days pages",
        "availability",
        (Phase(CLEAN, 0), Phase(60, 0.2)),
        ("1h",),
    ),
    Case(
        "availability 6h/30m: 8 % 5xx for 6 hours pages (1h at 8 % is under 14.4x)",
        "availability",
        (Phase(CLEAN, 0), Phase(360, 0.08)),
        ("6h",),
    ),
    Case(
        "availability 1d/2h: 4 % 5xx for a day tickets (and spends a third of the budget: "
        "3d/6h too)",
        "availability",
        (Phase(CLEAN, 0), Phase(DAY, 0.04)),
        ("1d", "3d"),
    ),
    Case(
        "availability 3d/6h: 1.5 % 5xx for 3 days tickets",
        "availability",
        (Phase(CLEAN, 0.015),),
        ("3d",),
    ),
    Case(
        "availability noise: the burst ended 10 minutes ago, the short window clears it",
        "availability",
        (Phase(CLEAN - 10, 0), Phase(60, 0.2), Phase(10, 0)),
        (),
    ),
    Case(
        "availability noise: 0.9 % 5xx for 3 days with 401 challenges and blob HEAD 404s is "
        "within the objective",
        "availability",
        (Phase(CLEAN, 0.009),),
        (),
    ),
    Case(
        "availability noise: 10 % 5xx for an hour is under the page's 14.4x",
        "availability",
        (Phase(CLEAN, 0), Phase(60, 0.1)),
        (),
    ),
    Case(
        "latency 1h/5m: 80 % of manifest reads slow for an hour pages",
        "latency",
        (Phase(CLEAN, 0), Phase(60, 0.8)),
        ("1h",),
    ),
    Case(
        "latency 6h/30m: 40 % slow for 6 hours pages",
        "latency",
        (Phase(CLEAN, 0), Phase(360, 0.4)),
        ("6h",),
    ),
    Case(
        "latency 1d/2h: 20 % slow for a day tickets (3d/6h too)",
        "latency",
        (Phase(CLEAN, 0), Phase(DAY, 0.2)),
        ("1d", "3d"),
    ),
    Case("latency 3d/6h: 7 % slow for 3 days tickets", "latency", (Phase(CLEAN, 0.07),), ("3d",)),
    Case(
        "latency noise: the slow hour ended 10 minutes ago",
        "latency",
        (Phase(CLEAN - 10, 0), Phase(60, 0.8), Phase(10, 0)),
        (),
    ),
    Case(
        "latency noise: 4 % slow for 3 days is within the objective",
        "latency",
        (Phase(CLEAN, 0.04),),
        (),
    ),
    # Low traffic: the minimum of requests (100 in the long window) against one or two.
    Case(
        "availability night: 4 requests answered 200 and one 502 in an hour, after 3 days "
        "without any, page nothing (20 % of 5 requests, 100 % of the last 5 minutes)",
        "availability",
        (QUIET, *single(60, {10: 0, 22: 0, 34: 0, 46: 0, 58: 1})),
        (),
    ),
    Case(
        "availability night: 5 requests an hour for 3 days, 2 of the last hour's failing, "
        "page nothing (40 % over 1h, 6.7 % over 6h: of 5 and 30 requests)",
        "availability",
        (Phase(CLEAN, 0, 5 / 60), *single(60, {12: 0, 24: 0, 36: 0, 48: 1, 60: 1})),
        (),
    ),
    Case(
        "latency night: one manifest GET of 3 s after 3 days without any pages nothing",
        "latency",
        (QUIET, *single(60, {58: 1})),
        (),
    ),
    Case(
        "availability outage at 120 requests an hour (over the minimum): everything fails for "
        "9 minutes, 18 requests, and the 1h/5m pair pages",
        "availability",
        outage(9, 2),
        ("1h",),
    ),
    Case(
        "availability outage at 60 requests an hour (under the minimum, with 42 401s and blob "
        "HEAD 404s that do not count): 22 minutes of failures page through 6h/30m",
        "availability",
        outage(22, 1),
        ("6h",),
    ),
    Case(
        "availability outage at 60 requests an hour: after 21 minutes (35 % of the hour, "
        "5.8 % of 6 hours) nothing pages yet, the hour holding too few requests",
        "availability",
        outage(21, 1),
        (),
    ),
    Case(
        "availability outage at 60000 requests an hour: 9 minutes of failures page, "
        "as without the minimum",
        "availability",
        outage(9, PER_MINUTE),
        ("1h",),
    ),
    Case(
        "availability outage at 60000 requests an hour: after 8 minutes nothing pages yet",
        "availability",
        outage(8, PER_MINUTE),
        (),
    ),
    Case(
        "latency outage at 120 manifest reads an hour: every read slow for 44 minutes, "
        "88 of them, and the 1h/5m pair pages",
        "latency",
        outage(44, 2),
        ("1h",),
    ),
)

HEADER = """\
# Written by `python3 -m alerts.slo_tests` from alerts/slo_tests.py: edit that.
# Every window pair of both objectives, firing alone where the arithmetic allows it, and
# near-misses that must stay silent. Cluster "b" runs clean beside "a" in every case: an
# objective is judged per pair. 1000 requests a minute unless a case says fewer, plus 0.4
# 401 challenges and 0.3 blob HEAD 404s per request that the availability SLI leaves out
# (counted, they would dilute the 5xx, or fill the minimum of requests).
# The budgets: availability 1 % (page 14.4 %, 6 %; ticket 3 %, 1 %), latency 5 %
# (page 72 %, 30 %; ticket 15 %, 5 %); a pair fires only with 100 requests in its long
# window, which the low-traffic cases (quiet nights, outages at 60 and 120 an hour) test.
# The alerts have no for:, so rules are evaluated hourly here (every case ends on the
# hour: an outage case starts the minutes before it that it takes to fire, or one fewer),
# which keeps three days of series fast; the ratios are recorded before the alerts read
# them in each round (group_eval_order), as a Prometheus evaluating every minute has them
# at most a minute old.
"""


def document() -> dict[str, Any]:
    tests = [
        {
            "name": case.title,
            "interval": "1m",
            "input_series": series(case, "a") + series(case, "b"),
            "alert_rule_test": [
                {
                    "eval_time": duration(length(case.phases)),
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
