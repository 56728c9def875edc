"""The objectives' one place (alerts/slo.py) and the rule file written from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from alerts.configure import main
from alerts.slo import BUCKETS, SLO_FILE, WINDOWS, Objectives, document
from alerts.slo import main as write_slo
from registry_monitor.accesslog.tally import DURATION_BUCKETS


def test_the_committed_rule_file_is_the_one_the_module_writes(tmp_path: Path) -> None:
    out = tmp_path / "slo.yaml"
    assert write_slo(["--out", str(out)]) == 0
    assert out.read_text() == SLO_FILE.read_text(), "run `python3 -m alerts.slo`"


def test_the_latency_thresholds_are_the_histograms_bounds() -> None:
    assert BUCKETS == DURATION_BUCKETS


def test_the_workbooks_windows_and_rates() -> None:
    assert [(w.severity, w.long, w.short, w.factor) for w in WINDOWS] == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6),
        ("warning", "1d", "2h", 3),
        ("warning", "3d", "6h", 1),
    ]


def alert_exprs(doc: dict[str, object]) -> list[str]:
    groups = doc["groups"]
    assert isinstance(groups, list)
    return [r["expr"] for g in groups for r in g["rules"] if "alert" in r]


def test_an_objective_sets_every_burn_threshold() -> None:
    exprs = alert_exprs(document(Objectives(availability=0.995)))
    assert 'registry_monitor:slo_errors:ratio_rate1h{slo="availability"} > 0.072\n' in exprs[0]
    assert 'registry_monitor:slo_errors:ratio_rate5m{slo="availability"} > 0.072\n' in exprs[0]
    assert 'registry_monitor:slo_errors:ratio_rate6h{slo="availability"} > 0.005\n' in exprs[3]
    assert 'ratio_rate1h{slo="latency"} > 0.72\n' in exprs[4]


def test_every_burn_alert_needs_the_minimum_of_requests_in_its_long_window() -> None:
    for objectives, least in ((Objectives(), 100), (Objectives(min_requests=500), 500)):
        exprs = alert_exprs(document(objectives))
        guards = [
            f'and registry_monitor:slo_requests:increase{w.long}{{slo="{slo}"}} >= {least}\n'
            for slo in ("availability", "latency")
            for w in WINDOWS
        ]
        assert [e.splitlines(keepends=True)[-1] for e in exprs] == guards


def test_configure_writes_a_deployments_objectives(tmp_path: Path) -> None:
    argv = ["--out", str(tmp_path), "--availability-objective", "0.999", "--latency-threshold", "1"]
    argv += ["--min-requests", "1000"]
    assert main(argv) == 0
    written = yaml.safe_load((tmp_path / "slo.yaml").read_text())
    constants = {
        (r["record"], r.get("labels", {}).get("slo")): r["expr"]
        for r in written["groups"][0]["rules"]
    }
    assert constants == {
        ("registry_monitor:slo_objective", "availability"): "vector(0.999)",
        ("registry_monitor:slo_objective", "latency"): "vector(0.95)",
        ("registry_monitor:slo_latency_threshold_seconds", None): "vector(1)",
    }
    ratios = "".join(r["expr"] for r in written["groups"][1]["rules"])
    assert 'le="1.0"' in ratios and 'le="2.0"' not in ratios
    assert "> 0.0144\n" in alert_exprs(written)[0]
    assert alert_exprs(written)[0].endswith(
        'registry_monitor:slo_requests:increase1h{slo="availability"} >= 1000\n'
    )
    done = subprocess.run(
        ["promtool", "check", "rules", "--lint=all", "--lint-fatal", str(tmp_path / "slo.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--availability-objective", "1"], "availability objective must be between 0 and 1"),
        (["--latency-threshold", "3"], "latency threshold must be a histogram bucket bound"),
        (["--min-requests", "0"], "minimum of requests must be a whole number of at least 1"),
    ],
)
def test_configure_refuses_objectives_it_cannot_alert_on(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "out"), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_committed_unit_tests_are_the_ones_the_module_writes() -> None:
    from alerts import slo_tests

    assert slo_tests.TEST_FILE.read_text() == slo_tests.text(), "run `python3 -m alerts.slo_tests`"
    # every window pair of both objectives fires in some case, and each has silent cases
    fired = {(c.slo, w) for c in slo_tests.CASES for w in c.fires}
    assert fired == {(s, w.long) for s in ("availability", "latency") for w in WINDOWS}
    assert {c.slo for c in slo_tests.CASES if not c.fires} == {"availability", "latency"}


def test_each_case_expects_what_the_rules_arithmetic_gives() -> None:
    """The cases' firing pairs, declared by hand, are the ratios and counts over each window."""
    from alerts import slo_tests

    for case in slo_tests.CASES:
        fired = {w.long for w in WINDOWS if slo_tests.fires(case.slo, w, case.phases)}
        assert fired == set(case.fires), case.title


def test_the_outage_cases_page_when_the_docs_tables_say() -> None:
    """promtool's outages (steady traffic, all failing at the end) against slo_detection."""
    from alerts import slo_detection, slo_tests

    outages = [
        c
        for c in slo_tests.CASES
        if c.phases == slo_tests.outage(c.phases[-1].minutes, c.phases[-1].per_minute)
    ]
    assert len(outages) == 6
    for case in outages:
        minutes, per_hour = case.phases[-1].minutes, round(60 * case.phases[-1].per_minute)
        for w in WINDOWS:
            found = slo_detection.first_page(case.slo, w, per_hour, Objectives())
            if w.long in case.fires:
                assert found is not None and found[1] == minutes, (case.title, w.long)
            else:
                assert found is None or found[1] > minutes, (case.title, w.long)


def test_the_docs_tables_are_the_modules() -> None:
    from alerts import slo_detection

    doc = (Path(__file__).parent.parent / "docs" / "traffic.md").read_text()
    assert slo_detection.markdown() in doc, "run `python3 -m alerts.slo_detection`"


def test_the_fewest_failures_that_fire_are_over_the_limit_of_the_minimum() -> None:
    from alerts.slo_detection import first_page, smallest_burn

    defaults = Objectives()
    fewest = [
        smallest_burn(slo, w, defaults) for slo in ("availability", "latency") for w in WINDOWS
    ]
    assert fewest == [15, 7, 4, 2, 73, 31, 16, 6]
    # at exactly the minimum in the hour a total outage pages with those 15, in 9 minutes
    assert first_page("availability", WINDOWS[0], 100, defaults) == (15, 9)
    assert first_page("availability", WINDOWS[0], 99, defaults) is None
