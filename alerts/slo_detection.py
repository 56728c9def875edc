"""What pages, after how many failed requests and how fast: the tables of docs/traffic.md.

    python3 -m alerts.slo_detection      print them (a test holds the doc to this)

For steady traffic of `per_hour` requests (those the SLI counts) that all
start failing at once, each window pair fires once its long window holds
more failed requests than its limit (factor x budget) of the requests in it,
and only if that window holds `min_requests` at all. The short window, all
failures by then, agrees at once. Failures come one request at a time, so the
pair fires at the first failure past the limit; Prometheus sees it at its next
rule evaluation (every minute: minutes rounded up) after the next scrape.
A partial failure (a share of the requests) takes as much longer as it is
smaller, and never fires below the limit.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction

from alerts.slo import WINDOWS, BurnWindow, Objectives

HOURS = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}
LEVELS = (5, 20, 60, 100, 120, 600, 3600, 60000)  # requests an hour, night to busy
DEFAULTS = Objectives()
WHAT_FAILS = {"availability": "failed", "latency": "slow"}
COUNTED = {"availability": "requests", "latency": "manifest reads"}


def limit(slo: str, window: BurnWindow, objectives: Objectives) -> Fraction:
    """The share of bad requests the pair fires above, exactly (0.3 is not 0.30000000000000004)."""
    objective = Fraction(str(getattr(objectives, slo)))
    return Fraction(str(window.factor)) * (1 - objective)


def smallest_burn(slo: str, window: BurnWindow, objectives: Objectives) -> int:
    """The fewest bad requests that can fire the pair: over its limit of min_requests."""
    return math.floor(limit(slo, window, objectives) * objectives.min_requests) + 1


def first_page(
    slo: str, window: BurnWindow, per_hour: int, objectives: Objectives
) -> tuple[int, int] | None:
    """(bad requests, minutes) until the pair fires when every request fails; None: never."""
    in_window = per_hour * HOURS[window.long]
    if in_window < objectives.min_requests:
        return None
    bad = math.floor(limit(slo, window, objectives) * in_window) + 1
    return bad, math.ceil(Fraction(60 * bad, per_hour))


def _minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{rest} min"


def table(slo: str, objectives: Objectives = DEFAULTS) -> str:
    heads = [f"{w.long}/{w.short} {'page' if w.severity == 'page' else 'ticket'}" for w in WINDOWS]
    lines = [
        f"| {COUNTED[slo]} an hour | {' | '.join(heads)} |",
        "| ---: |" + " --- |" * len(WINDOWS),
    ]
    for per_hour in LEVELS:
        cells = []
        for window in WINDOWS:
            found = first_page(slo, window, per_hour, objectives)
            bad = f"{found[0]:,} {WHAT_FAILS[slo]}" if found else ""
            cells.append(f"{_minutes(found[1])}, {bad}" if found else "never")
        lines.append(f"| {per_hour:,} | {' | '.join(cells)} |")
    fewest = [str(smallest_burn(slo, w, objectives)) for w in WINDOWS]
    lines.append(f"| fewest {WHAT_FAILS[slo]} to fire | {' | '.join(fewest)} |")
    return "\n".join(lines) + "\n"


def markdown(objectives: Objectives = DEFAULTS) -> str:
    return "\n".join(
        f"{what}:\n\n{table(slo, objectives)}"
        for slo, what in (
            ("availability", "Availability (every request answered 5xx)"),
            ("latency", "Latency (every manifest read over the threshold)"),
        )
    )


def main() -> int:
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
