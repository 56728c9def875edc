"""Write the rule files for a deployment: team label, runbook and Grafana links, job name.

    python3 -m alerts.configure --out /etc/prometheus/rules/registry-monitor \\
        --team storage --runbook-url https://git.example.org/registry-monitor/alerts/RUNBOOK.md \\
        --grafana-url https://grafana.example.org \\
        --availability-objective 0.99 --latency-objective 0.95 --latency-threshold 2 \\
        --min-requests 100

Reads alerts/*.yaml (the rule files, not their *_test.yaml nor the
Alertmanager example) and writes them to --out with every alert's `team`
label, the part of `runbook_url` before the `#anchor`, the Grafana base of
`dashboard` and the scrape job in `up{job=...}` replaced. thresholds.yaml is
written anew (alerts/thresholds.py): with --config, from that exporter config's
`thresholds:`, so that check_registry on a tuned host and the alerts judge by the
same numbers; without, from the config's defaults, as committed. The
service-level objectives are options: slo.yaml is written anew from
alerts/slo.py with the objectives and the minimum of requests given (its
windows and burn rates stay the workbook's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alerts.rule_files import ALERTS_DIR, dump, load, rule_files, rules
from alerts.slo import SLO_FILE, Objectives, document
from alerts.thresholds import THRESHOLDS_FILE, literal
from alerts.thresholds import document as thresholds_document
from registry_monitor.config import ConfigError, Levels, Thresholds
from registry_monitor.config.loading import load_config

__all__ = ["ALERTS_DIR", "configure", "load", "main", "rule_files", "rules"]

DEFAULT_TEAM = "registry"
DEFAULT_RUNBOOK = "alerts/RUNBOOK.md"
DEFAULT_JOB = "registry-monitor"


def configure(
    doc: dict[str, Any],
    team: str = DEFAULT_TEAM,
    runbook_url: str = DEFAULT_RUNBOOK,
    grafana_url: str = "",
    job: str = DEFAULT_JOB,
) -> dict[str, Any]:
    """The rule document with the deployment's team, links and job (changed in place)."""
    for rule in rules(doc):
        if "expr" in rule:
            rule["expr"] = str(rule["expr"]).replace(f'job="{DEFAULT_JOB}"', f'job="{job}"')
        if "alert" not in rule:
            continue
        rule.setdefault("labels", {})["team"] = team
        annotations = rule.setdefault("annotations", {})
        if "runbook_url" in annotations:
            _, sep, anchor = str(annotations["runbook_url"]).partition("#")
            annotations["runbook_url"] = runbook_url + sep + anchor
        dashboard = str(annotations.get("dashboard", ""))
        if dashboard.startswith("/"):
            annotations["dashboard"] = grafana_url.rstrip("/") + dashboard
    return doc


def config_thresholds(paths: Sequence[Path]) -> Thresholds:
    """The `thresholds:` of the exporter configs given (all equal), or the defaults."""
    found = [(path, load_config(path).thresholds) for path in paths]
    if not found:
        return Thresholds()
    first, chosen = found[0]
    for path, thresholds in found[1:]:
        for name in thresholds._fields:
            ours, theirs = getattr(thresholds, name), getattr(chosen, name)
            if ours != theirs:
                raise ConfigError(
                    f"{path}: thresholds.{name} is {_shown(ours)}, but {_shown(theirs)} in "
                    f"{first}: the rules hold one value for every node they judge"
                )
    return chosen


def _shown(levels: Levels) -> str:
    return f"{{warning: {literal(levels.warning)}, critical: {literal(levels.critical)}}}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m alerts.configure",
        description="Write registry-monitor's alert rule files for one deployment.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write to")
    parser.add_argument("--team", default=DEFAULT_TEAM, help="value of every alert's team label")
    parser.add_argument(
        "--runbook-url",
        default=DEFAULT_RUNBOOK,
        help="where RUNBOOK.md is published; each alert links to its #anchor there",
    )
    parser.add_argument(
        "--grafana-url", default="", help="Grafana base URL put before the /d/<uid> links"
    )
    parser.add_argument("--job", default=DEFAULT_JOB, help="scrape job name of the exporters")
    defaults = Objectives()
    parser.add_argument(
        "--availability-objective",
        type=float,
        default=defaults.availability,
        help=f"share of requests without a 5xx (default {defaults.availability:g})",
    )
    parser.add_argument(
        "--latency-objective",
        type=float,
        default=defaults.latency,
        help=f"share of manifest reads within the threshold (default {defaults.latency:g})",
    )
    parser.add_argument(
        "--latency-threshold",
        type=float,
        default=defaults.latency_seconds,
        help=f"seconds of the latency objective (default {defaults.latency_seconds:g})",
    )
    parser.add_argument(
        "--min-requests",
        type=int,
        default=defaults.min_requests,
        help="requests a burn-rate alert's long window must hold before it can fire "
        f"(default {defaults.min_requests}; docs/traffic.md)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="an exporter config (/etc/registry-monitor/config.yaml) whose thresholds: the "
        "rules take; once per node these rules judge, and they must agree (default: the "
        "config's defaults)",
    )
    args = parser.parse_args(argv)
    for value, name in ((args.team, "--team"), (args.job, "--job")):
        if not value or any(c in value for c in "\"'{}\n"):
            parser.error(f"{name} must be a plain label value, got {value!r}")
    objectives = Objectives(
        args.availability_objective,
        args.latency_objective,
        args.latency_threshold,
        args.min_requests,
    )
    try:
        objectives.check()
        written = {
            SLO_FILE.name: document(objectives),
            THRESHOLDS_FILE.name: thresholds_document(config_thresholds(args.config)),
        }
    except (ValueError, ConfigError) as exc:
        parser.error(str(exc))
    except ModuleNotFoundError as exc:  # validating a config needs the exporter's libraries
        parser.error(
            f"--config needs the exporter's dependencies ({exc.name} is missing): run with "
            "the project's Python (`make venv`, then .venv/bin/python -m alerts.configure)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for source in rule_files():
        original = written[source.name] if source.name in written else load(source)
        doc = configure(original, args.team, args.runbook_url, args.grafana_url, args.job)
        target = args.out / source.name
        dump(
            doc, target, f"# Written by `python3 -m alerts.configure` from alerts/{source.name}.\n"
        )
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
