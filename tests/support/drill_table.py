"""The fault drill's table in docs/pair.md: each row's verdict, the drill's measured times as
the bound they meet, and the production bounds computed from the real rules' `for:`, the
probes' default intervals, the scrape interval docs/deployment.md sets and the page
route's group_wait in alerts/alertmanager.example.yaml."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from alerts.configure import ALERTS_DIR, load, rule_files, rules
from registry_monitor.config import Config, Intervals
from testbed.rsync import PERIOD
from testbed.rules import parse_duration
from tests.support.fast_pair import FAST

ROOT = Path(__file__).resolve().parents[2]
PAIR_DOC = ROOT / "docs/pair.md"
BEGIN = "<!-- fault-drill:begin (make drill rewrites this table) -->"
END = "<!-- fault-drill:end -->"
# Prometheus's own default: docs/deployment.md sets no evaluation_interval
EVALUATION_SECONDS = 60.0
DRILL_FOR_SECONDS = 2  # tests/support/paging.py cuts every `for:` to this
DRILL_STEP = 10  # the drill's times are written as the multiple of 10 s they stay under


def scrape_seconds() -> float:
    text = (ROOT / "docs/deployment.md").read_text(encoding="utf-8")
    found = re.search(r"scrape_interval: (\d+)s", text)
    if found is None:
        raise ValueError("docs/deployment.md: no `scrape_interval: Ns` in its scrape config")
    return float(found.group(1))


def page_group_wait() -> float:
    doc = yaml.safe_load((ALERTS_DIR / "alertmanager.example.yaml").read_text(encoding="utf-8"))
    for team in doc["route"]["routes"]:
        for route in team.get("routes", []):
            if 'severity="page"' in route.get("matchers", []):
                return parse_duration(route["group_wait"])
    raise ValueError('alerts/alertmanager.example.yaml: no route for severity="page"')


def sync_period() -> float:
    return parse_duration(PERIOD.replace("min", "m"))


def rule_for(alert: str, severity: str) -> float:
    """The real `for:` (0 when none) of the rule `alert` at `severity`, from alerts/*.yaml."""
    for path in rule_files():
        for rule in rules(load(path)):
            if rule.get("alert") == alert and rule["labels"].get("severity") == severity:
                return parse_duration(str(rule["for"])) if "for" in rule else 0.0
    raise KeyError(f"no rule {alert} with severity {severity} in alerts/*.yaml")


def refresh_seconds(source: str) -> float:
    """How long a fault can stay unseen by what `source` names: a probe's default interval,
    the storage probe's full scan (dangling references), or nothing but the scrape."""
    if source == "scrape":
        return 0.0
    if source == "full_scan":
        return float(Config._field_defaults["storage_full_scan_seconds"])
    return Intervals().of(source)


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    source: str  # what must see the fault first: a probe, "full_scan" or "scrape"

    def detected_bound(self) -> float:
        return refresh_seconds(self.source) + scrape_seconds()

    def paged_bound(self) -> float:
        for_ = rule_for(self.name, self.severity)
        wait = page_group_wait() if self.severity == "page" else 0.0
        return self.detected_bound() + EVALUATION_SECONDS + for_ + wait


@dataclass
class Result:
    fault: str
    alerts: tuple[Alert, ...]
    guard_applies: bool
    prevented: str = ""
    detected_s: float | None = None
    arrived_s: dict[str, float] = field(default_factory=dict)
    lost: str = ""
    next_sync: str = ""  # what the next sync did to the loss
    made_worse: bool = False

    @property
    def pages(self) -> list[Alert]:
        return [a for a in self.alerts if a.severity == "page"]

    def goal_met(self) -> bool:
        if self.guard_applies:
            return self.prevented.startswith("yes") and self.lost == "none"
        if self.made_worse:
            return any(a.paged_bound() < sync_period() for a in self.pages)
        return len(self.arrived_s) == len(self.alerts) > 0

    def verdict(self) -> str:
        if self.guard_applies:
            head = "met: the guard refused the sync" if self.goal_met() else "NOT MET"
        elif self.made_worse:
            head = (
                f"met: paged within the sync period ({sync_period():.0f} s)"
                if self.goal_met()
                else f"NOT MET: no page within the sync period ({sync_period():.0f} s)"
            )
        else:
            head = "met: alerted; the next sync cannot make it worse"
        return f"{head} ({self.next_sync})"


def drill_bound(seconds: float) -> str:
    return f"≤ {max(DRILL_STEP, DRILL_STEP * math.ceil(seconds / DRILL_STEP))}"


def _times(result: Result) -> tuple[str, str]:
    detected = (
        f"{drill_bound(result.detected_s)} · production ≤ "
        f"{min(a.detected_bound() for a in result.alerts):.0f}"
        if result.detected_s is not None
        else "not detected"
    )
    cells = []
    for alert in result.alerts:
        at = result.arrived_s.get(alert.name)
        drill = drill_bound(at) if at is not None else "never"
        cells.append(
            f"{alert.name} ({alert.severity}): {drill} · production ≤ {alert.paged_bound():.0f}"
        )
    return detected, "<br>".join(cells)


HEADER = (
    "| fault | prevented? | detected after (s) | paged after (s, Alertmanager) | data lost | goal |",
    "| --- | --- | --- | --- | --- | --- |",
)


def table(results: list[Result]) -> str:
    lines = list(HEADER)
    for r in results:
        detected, paged = _times(r)
        lines.append(
            f"| {r.fault} | {r.prevented} | {detected} | {paged} | {r.lost} | {r.verdict()} |"
        )
    return "\n".join(lines)


def settings_note() -> str:
    return (
        f"Drill settings: the {', '.join(FAST)} probes every {max(FAST.values())} s, the "
        f"storage probe's full scan every run, Prometheus scraping and evaluating every "
        f"1 s, every rule's `for:` cut to {DRILL_FOR_SECONDS} s. Production bounds: the "
        f"probe's default interval (or the storage probe's full scan, "
        f"{refresh_seconds('full_scan'):.0f} s) + the scrape interval "
        f"({scrape_seconds():.0f} s, docs/deployment.md) to detect; then + an evaluation "
        f"interval ({EVALUATION_SECONDS:.0f} s, Prometheus's default) + the rule's real "
        f"`for:` (alerts/*.yaml) + the page route's group_wait ({page_group_wait():.0f} s, "
        f"alerts/alertmanager.example.yaml) to reach the pager. The sync runs every "
        f"{sync_period():.0f} s."
    )


def block(results: list[Result]) -> str:
    return f"{BEGIN}\n\n{settings_note()}\n\n{table(results)}\n\n{END}"


def rewrite(doc: Path, results: list[Result]) -> None:
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    doc.write_text(text[:start] + block(results) + text[end:], encoding="utf-8")


_DRILL_TIME = re.compile(r"(≤ \d+|never) · production")


def without_drill_times(text: str) -> str:
    """The block with the drill's own measured times left out: what a rerun reproduces."""
    return _DRILL_TIME.sub("production", text)


def committed_block(doc: Path = PAIR_DOC) -> str:
    text = doc.read_text(encoding="utf-8")
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def raw_figures(results: list[Result]) -> str:
    """The seconds as measured, to a tenth: `make drill` shows them; they vary run to run
    and stay out of the committed table."""
    lines = []
    for r in results:
        arrived = ", ".join(f"{name} {s:.1f}" for name, s in r.arrived_s.items())
        detected = f"{r.detected_s:.1f}" if r.detected_s is not None else "-"
        lines.append(f"{r.fault}: detected {detected}; at Alertmanager: {arrived}")
    return "\n".join(lines) + "\n"
