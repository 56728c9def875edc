"""Real traffic on the pair overview: nginx's access log against the objectives.

Per node (series carry node and role): the pair's objective is judged by the
alerts per pair (alerts/slo.py); here one sees which node serves the traffic
and which one fails it. The levels are the objectives' budgets.
"""

from __future__ import annotations

from alerts.slo import MANIFEST_READS, PERIOD, Objectives
from dashboards.panels import (
    PanelBuilder,
    Query,
    bad_from,
    good_from,
    metric,
    stat_panel,
    timeseries_panel,
    with_node,
)

OBJECTIVES = Objectives()
BUDGET = round(1 - OBJECTIVES.availability, 6)
RATE = "[$__rate_interval]"
BY_NODE = "job, cluster, instance"


def _requests(extra: str = "", **labels: str) -> str:
    """Our requests counter, scoped; `extra` adds matchers other than equality."""
    selector = metric("http_requests_total", **labels)
    return selector[:-1] + "," + extra + "}" if extra else selector


def _errors() -> str:
    return _requests('code=~"5.."')


def _counted() -> str:
    """The availability SLI's requests: not 401 challenges, not blob HEAD 404s."""
    head_404 = _requests(route="blob", method="HEAD", code="404")
    not_challenges = _requests('code!="401"')
    return f"rate({not_challenges}{RATE}) unless {head_404}"


def _error_rate() -> str:
    """5xx per second; 0, not nothing, on a node without a single 5xx series yet."""
    return (
        f"(sum by ({BY_NODE}) (rate({_errors()}{RATE}))"
        f" or 0 * sum by ({BY_NODE}) (rate({_requests()}{RATE})))"
    )


def error_ratio() -> str:
    return f"{_error_rate()} / sum by ({BY_NODE}) ({_counted()})"


def budget_left() -> str:
    """1 - (errors / requests over the period) / budget; the rates summed over the period.

    A node without a request in the period has spent nothing: 100 %, not NaN.
    """
    # step = rate window: every request counted once (the panel's 5m minimum interval
    # keeps that to 8640 steps over 30 days)
    window = f"[{PERIOD}:$__rate_interval]"
    errors = f"sum by ({BY_NODE}) (sum_over_time({_error_rate()}{window}))"
    counted = f"sum by ({BY_NODE}) (sum_over_time((sum by ({BY_NODE}) ({_counted()})){window}))"
    return f"1 - (\n  {errors}\n  / ({counted} > 0)\n  or 0 * {counted}\n) / {BUDGET:g}"


def manifest_quantile(q: float) -> str:
    bucket = metric("http_request_duration_seconds_bucket")[:-1] + f",{MANIFEST_READS}}}"
    return f"histogram_quantile({q:g}, sum by ({BY_NODE}, le) (rate({bucket}{RATE})))"


def traffic_row() -> list[PanelBuilder]:
    percent = f"{100 * OBJECTIVES.availability:g} %"
    return [
        timeseries_panel(
            "Requests per second by route",
            "Requests nginx logged per node, by registry API route (manifest, blob, "
            "blob_upload, tags, catalog, base, other), from the access log. The standby "
            "should see little more than the exporter's own probes.",
            [
                Query(
                    with_node(f"sum by ({BY_NODE}, route) (rate({_requests()}{RATE}))"),
                    "{{node}} {{route}}",
                )
            ],
            "reqps",
            width=8,
            alerts=("RegistryWritesOnStandby", "RegistryAccessLogSilent"),
            detail_link=True,
        ),
        timeseries_panel(
            "Error ratio against the objective",
            f"Share of requests answered 5xx per node (401 challenges and blob HEAD 404s "
            f"left out: normal protocol flow). The red line is the error budget of the "
            f"availability objective ({percent} without a 5xx): above it, the budget "
            f"burns faster than it refills.",
            [Query(with_node(error_ratio()), "{{node}}")],
            "percentunit",
            bad_from(BUDGET),
            width=8,
            alerts=("RegistryAvailabilityBudgetBurn",),
            detail_link=True,
        ),
        timeseries_panel(
            "Manifest read latency",
            f"p50, p95 and p99 of manifest GET/HEAD per node: the registry's own times "
            f"from its journal, or nginx's with the registry_monitor log format "
            f"(access_log.durations). The latency objective: "
            f"{100 * OBJECTIVES.latency:g} % within {OBJECTIVES.latency_seconds:g} s "
            f"(the red line).",
            [
                Query(with_node(manifest_quantile(q)), f"{{{{node}}}} p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)
            ],
            "s",
            bad_from(OBJECTIVES.latency_seconds),
            width=8,
            alerts=("RegistryLatencyBudgetBurn",),
            detail_link=True,
        ),
        budget_panel(),
    ]


def budget_panel() -> PanelBuilder:
    return stat_panel(
        "Error budget left (30 days)",
        f"Share of the availability objective's {PERIOD} error budget ({BUDGET:.0%} of "
        f"requests may fail) not yet spent, per node: 100 % with no 5xx, 0 % at the "
        f"objective, below 0 past it. Counts since each exporter's start when that is "
        f"less than {PERIOD} ago.",
        [Query(with_node(budget_left()), "{{node}}")],
        "percentunit",
        good_from(0),
        width=6,
        alerts=("RegistryAvailabilityBudgetBurn",),
        detail_link=True,
    ).interval("5m")
