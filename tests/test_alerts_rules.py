"""The alert rules as files: promtool's checks and unit tests, and what every alert must carry."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.configure import ALERTS_DIR, load, main, rule_files, rules
from registry_monitor.config import Thresholds
from testbed.rules import parse_duration, short_for_copies
from tests.support.runbook import RUNBOOK, runbook_anchors

README = ALERTS_DIR / "README.md"
SEVERITIES = {"page", "warning", "info"}
DASHBOARDS = ("/d/registry-pair-overview", "/d/registry-node-detail")
THRESHOLD_REF = re.compile(r'registry_monitor:threshold\{threshold="(\w+)", level="(\w+)"\}')


def alert_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in rule_files():
        for rule in rules(load(path)):
            if "alert" in rule:
                yield path, rule


def rule_id(item: tuple[Path, dict[str, Any]]) -> str:
    path, rule = item
    return f"{path.stem}:{rule['alert']}:{rule['labels']['severity']}"


ALERT_RULES = list(alert_rules())


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_rule_files_pass_promtool_lint() -> None:
    files = rule_files()
    done = promtool("check", "rules", "--lint=all", "--lint-fatal", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    # every file checked (promtool names each; its verdict is the exit code)
    assert [str(f) in done.stdout for f in files] == [True] * len(files) == [True] * 14


def test_every_rule_file_has_its_unit_tests_beside_it() -> None:
    tests = sorted(p.name for p in ALERTS_DIR.glob("*_test.yaml"))
    assert tests == sorted(f"{p.stem}_test.yaml" for p in rule_files())
    for name in tests:
        doc = yaml.safe_load((ALERTS_DIR / name).read_text())
        assert name.removesuffix("_test.yaml") + ".yaml" in doc["rule_files"], name


def test_promtool_unit_tests_pass() -> None:
    tests = sorted(ALERTS_DIR.glob("*_test.yaml"))
    done = promtool("test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [str(t) in done.stdout for t in tests] == [True] * len(rule_files())


@pytest.mark.parametrize("item", ALERT_RULES, ids=rule_id)
def test_alert_metadata(item: tuple[Path, dict[str, Any]]) -> None:
    _, rule = item
    name, labels, notes = rule["alert"], rule["labels"], rule["annotations"]
    assert re.fullmatch(r"Registry[A-Z][A-Za-z]+", name), f"alert name {name!r}"
    assert labels["severity"] in SEVERITIES
    assert labels["team"] == "registry"
    assert set(notes) == {"summary", "description", "runbook_url", "dashboard"}
    assert all(str(v).strip() == v and v for v in notes.values())
    # Wikimedia's rule: severity page if and only if the summary says #page.
    assert (labels["severity"] == "page") == ("#page" in notes["summary"])
    assert notes["runbook_url"] == f"alerts/RUNBOOK.md#{name.lower()}"
    assert name.lower() in runbook_anchors(), f"RUNBOOK.md has no section {name}"
    assert notes["dashboard"].startswith(DASHBOARDS)
    # Who and where: the node (or instance), the pair, or the Prometheus itself.
    assert re.search(r"\$labels\.(node|instance|cluster)|\$externalURL", notes["description"])
    if THRESHOLD_REF.search(rule["expr"]):
        assert "$value" in notes["description"], "threshold alerts show the value"
    if "for" in rule:
        assert parse_duration(rule["for"]) >= 60


def test_runbook_has_a_section_per_alert_and_no_other() -> None:
    sections = [
        line.removeprefix("## ").strip()
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## Registry")
    ]
    assert sorted(sections) == sorted({rule["alert"] for _, rule in ALERT_RULES})


def test_runbook_links_resolve() -> None:
    text = RUNBOOK.read_text()
    for anchor in re.findall(r"\]\(#([\w-]+)\)", text):
        assert anchor in runbook_anchors(), anchor


def test_readme_alert_table_lists_every_alert_with_its_severities_and_for() -> None:
    """alerts/README.md's table: one row per alert, severities and for: in the rule files' order."""
    rows = {}
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `Registry"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    expected: dict[str, tuple[list[str], list[str]]] = {}
    for _, rule in ALERT_RULES:
        severities, fors = expected.setdefault(rule["alert"], ([], []))
        severities.append(rule["labels"]["severity"])
        fors.append(rule.get("for", "-"))
    assert rows == {name: (", ".join(s), ", ".join(f)) for name, (s, f) in expected.items()}


def unit_tests() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted(ALERTS_DIR.glob("*_test.yaml")):
        groups += yaml.safe_load(path.read_text())["tests"]
    return groups


@pytest.mark.parametrize("item", ALERT_RULES, ids=rule_id)
def test_every_alert_rule_has_a_firing_case(item: tuple[Path, dict[str, Any]]) -> None:
    _, rule = item
    fired = [
        alert["exp_labels"]
        for group in unit_tests()
        for case in group.get("alert_rule_test", [])
        if case["alertname"] == rule["alert"]
        for alert in case.get("exp_alerts") or []
    ]
    assert any(labels["severity"] == rule["labels"]["severity"] for labels in fired)


@pytest.mark.parametrize("name", sorted({rule["alert"] for _, rule in ALERT_RULES}))
def test_every_alert_has_a_noise_case_past_its_for(name: str) -> None:
    """A test group that feeds near-misses and expects silence after the longest for:."""
    longest = max(parse_duration(r.get("for", "0s")) for _, r in ALERT_RULES if r["alert"] == name)
    noise = []
    for group in unit_tests():
        cases = [c for c in group.get("alert_rule_test", []) if c["alertname"] == name]
        if cases and all(not c.get("exp_alerts") for c in cases) and group["input_series"]:
            noise += [parse_duration(c["eval_time"]) for c in cases]
    assert noise and max(noise) > longest, f"{name}: no noise case evaluated after {longest}s"


@pytest.mark.parametrize("item", [i for i in ALERT_RULES if "for" in i[1]], ids=rule_id)
def test_every_for_is_needed_by_the_unit_tests(
    item: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The same rules with this one rule's for: removed fail their unit tests."""
    path, target = item
    for source in rule_files():
        shutil.copy(source, tmp_path / source.name)
    doc = load(path)
    for rule in rules(doc):
        if rule == target:
            del rule["for"]
    (tmp_path / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    # only this alert's cases, so promtool has less to do
    tests = yaml.safe_load((ALERTS_DIR / f"{path.stem}_test.yaml").read_text())
    tests["tests"] = [
        {**group, "alert_rule_test": cases}
        for group in tests["tests"]
        if (
            cases := [
                c for c in group.get("alert_rule_test", []) if c["alertname"] == target["alert"]
            ]
        )
    ]
    (tmp_path / "mutant_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = promtool("test", "rules", tmp_path / "mutant_test.yaml")
    assert done.returncode == 1, f"{rule_id(item)} fires as well without its for:"
    # failed on this alert's expectations (promtool names the alert), not on a broken file
    assert target["alert"] in done.stdout + done.stderr, done.stderr


def thresholds_in_rules() -> dict[tuple[str, str], float]:
    doc = load(ALERTS_DIR / "thresholds.yaml")
    found: dict[tuple[str, str], float] = {}
    for rule in rules(doc):
        assert rule["record"] == "registry_monitor:threshold"
        key = (rule["labels"]["threshold"], rule["labels"]["level"])
        assert key not in found, f"threshold {key} defined twice"
        found[key] = float(re.fullmatch(r"vector\(([\d.]+)\)", rule["expr"])[1])  # type: ignore[index]
    return found


def test_thresholds_equal_the_check_commands_defaults() -> None:
    in_rules = thresholds_in_rules()
    defaults = Thresholds()
    for name in Thresholds._fields:
        levels = getattr(defaults, name)
        assert in_rules[(name, "warning")] == levels.warning, name
        assert in_rules[(name, "critical")] == levels.critical, name


def test_every_threshold_referenced_exists_and_every_threshold_is_used() -> None:
    defined = set(thresholds_in_rules())
    used = {ref for _, rule in ALERT_RULES for ref in THRESHOLD_REF.findall(rule["expr"])}
    assert used == defined
    # the only way the rules name a threshold is that exact selector
    for _, rule in ALERT_RULES:
        assert (
            rule["expr"].count("registry_monitor:threshold")
            == len(THRESHOLD_REF.findall(rule["expr"]))
            or rule["alert"] == "RegistryAlertThresholdsMissing"
        )


AGGREGATION = re.compile(
    r"\b(sum|count|min|max|avg|group|topk|bottomk|quantile|stddev|stdvar)\s+(by|without)\s*\(([^)]*)\)"
)
MATCHING = re.compile(r"\b(on|ignoring)\s*\(([^)]*)\)")


@pytest.mark.parametrize("item", ALERT_RULES, ids=rule_id)
def test_no_expression_mixes_pairs(item: tuple[Path, dict[str, Any]]) -> None:
    """Aggregations keep `cluster`; joins match on it (or on nothing, for a threshold)."""
    expr = item[1]["expr"]
    for op, mode, labels in AGGREGATION.findall(expr):
        assert mode == "by" and "cluster" in labels.replace(" ", "").split(","), f"{op} {mode}"
    assert not re.search(r"\b(sum|count|min|max|avg|group)\s*\(", expr), "aggregation without by"
    for mode, labels in MATCHING.findall(expr):
        names = [x.strip() for x in labels.split(",") if x.strip()]
        assert mode == "on" and (names == [] or "cluster" in names), f"{mode} ({labels})"


def test_configure_writes_a_deployments_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rules"
    assert (
        main(
            [
                "--out",
                str(out),
                "--team",
                "storage-sre",
                "--runbook-url",
                "https://git.example.org/registry-monitor/-/blob/main/alerts/RUNBOOK.md",
                "--grafana-url",
                "https://grafana.example.org/",
                "--job",
                "docker-registry-exporter",
            ]
        )
        == 0
    )
    written = sorted(out.iterdir())
    assert [p.name for p in written] == [p.name for p in rule_files()]
    assert capsys.readouterr().out.split() == [str(p) for p in written]
    done = promtool("check", "rules", "--lint=all", "--lint-fatal", *written)
    assert done.returncode == 0, done.stdout + done.stderr
    for source in rule_files():
        original, changed = list(rules(load(source))), list(rules(load(out / source.name)))
        assert len(original) == len(changed)
        for before, after in zip(original, changed, strict=True):
            assert after["expr"] == before["expr"].replace(
                'job="registry-monitor"', 'job="docker-registry-exporter"'
            )
            if "alert" not in before:
                assert after == before
                continue
            assert after["labels"] == {**before["labels"], "team": "storage-sre"}
            assert after.get("for") == before.get("for")
            notes = after["annotations"]
            assert notes["runbook_url"] == (
                "https://git.example.org/registry-monitor/-/blob/main/alerts/RUNBOOK.md#"
                + before["alert"].lower()
            )
            assert (
                notes["dashboard"]
                == "https://grafana.example.org" + before["annotations"]["dashboard"]
            )
            assert (notes["summary"], notes["description"]) == (
                before["annotations"]["summary"],
                before["annotations"]["description"],
            )


@pytest.mark.parametrize("team", ['a"b', "", "x{y}"])
def test_configure_refuses_a_team_that_is_no_label_value(tmp_path: Path, team: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--team", team])
    assert exc.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_short_for_copies_change_nothing_but_for(tmp_path: Path) -> None:
    copies = short_for_copies(tmp_path, longest=2)
    assert [p.name for p in copies] == [p.name for p in rule_files()]
    for source, copy in zip(rule_files(), copies, strict=True):
        for before, after in zip(rules(load(source)), rules(load(copy)), strict=True):
            if "for" in before:
                assert after["for"] == (
                    "2s" if parse_duration(before["for"]) > 2 else before["for"]
                )
            assert {k: v for k, v in after.items() if k != "for"} == {
                k: v for k, v in before.items() if k != "for"
            }
