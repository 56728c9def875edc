"""Read the committed dashboard JSON and its PromQL the way Grafana and dashboard-linter do."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
FILES = ("registry-pair-overview.json", "registry-node-detail.json")

# Grafana's own variables stand for durations; for parsing they become odd
# durations no one would write, so a range that is one of them is recognisable.
LINT_DURATIONS = {"__rate_interval": "987654s", "__interval": "987653s", "__range": "987652s"}
RATE_INTERVAL = timedelta(seconds=987654)

VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def short(name: str) -> str:
    """registry-pair-overview.json -> pair-overview, for test ids."""
    return name.removesuffix(".json").removeprefix("registry-")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARDS_DIR / name).read_text())
    return data


def all_dashboards() -> dict[str, dict[str, Any]]:
    return {name: load(name) for name in FILES}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows are only headings)."""
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@dataclass(frozen=True)
class Target:
    dashboard: str  # file name
    panel: dict[str, Any]
    ref: str
    expr: str
    instant: bool

    @property
    def id(self) -> str:
        return f"{short(self.dashboard)}:{self.panel['id']} {self.panel['title']}:{self.ref}"


def targets(name: str) -> Iterator[Target]:
    for panel in panels(load(name)):
        for target in panel.get("targets", []):
            yield Target(name, panel, target["refId"], target["expr"], target.get("instant", False))


def all_targets() -> list[Target]:
    return [t for name in FILES for t in targets(name)]


def annotations(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Annotations from PromQL (not Grafana's built-in one)."""
    return [a for a in dashboard["annotations"]["list"] if not a.get("builtIn")]


def query_variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in dashboard["templating"]["list"] if v["type"] == "query"]


def variable(dashboard: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in dashboard["templating"]["list"] if v["name"] == name)


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $var and ${var} (and ${var:format}) with values; unknown ones are an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for variable ${name} in {expr!r}")
        return values[name]

    return VARIABLE.sub(replace, expr)


def lint_parse(expr: str) -> promql_parser.Expr:
    """Parse as dashboard-linter does: Grafana's durations become placeholders;
    user variables inside label matchers stay as they are (they are strings)."""
    for name, value in LINT_DURATIONS.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return promql_parser.parse(expr)


def children(node: Any) -> list[Any]:
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] + ([node.param] if node.param is not None else [])
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
        return [node.expr]
    if isinstance(node, promql_parser.SubqueryExpr):
        return [node.expr]
    return []


def walk(node: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Every node with its ancestors, outermost first."""
    yield node, parents
    for child in children(node):
        yield from walk(child, (*parents, node))


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    return [n for n, _ in walk(lint_parse(expr)) if isinstance(n, promql_parser.VectorSelector)]


def matchers(selector: promql_parser.VectorSelector) -> dict[str, tuple[str, str]]:
    """label -> (operator, value); the metric name is the `__name__` equality."""
    found = {
        m.name: (str(m.op).removeprefix("MatchOp."), m.value) for m in selector.matchers.matchers
    }
    if selector.name:
        found["__name__"] = ("Equal", selector.name)
    return found


def metric_names(expr: str) -> set[str]:
    names = set()
    for selector in selectors(expr):
        op, name = matchers(selector).get("__name__", ("", ""))
        assert op == "Equal", f"a selector without a fixed metric name in {expr!r}"
        names.add(name)
    return names


def range_functions(expr: str) -> list[tuple[str, timedelta]]:
    """(function, range) for every function applied directly to a range selector."""
    found = []
    for node, parents in walk(lint_parse(expr)):
        if isinstance(node, promql_parser.MatrixSelector) and parents:
            call = parents[-1]
            if isinstance(call, promql_parser.Call):
                found.append((call.func.name, node.range))
    return found


LABEL_FUNCTION = re.compile(r"^(label_names|label_values|metrics|query_result)\((.+)\)$")


def variable_selector(query: str) -> tuple[str, str]:
    """`label_values(SELECTOR, label)` -> (SELECTOR, label)."""
    found = LABEL_FUNCTION.match(query)
    assert found and found.group(1) == "label_values", f"not a label_values() query: {query!r}"
    selector, _, label = found.group(2).rpartition(",")
    return selector.strip(), label.strip()
