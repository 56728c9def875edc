"""alerts/thresholds.yaml, written from the config's Thresholds and alerts/thresholds.py, and a
deployment's copy written from its own config by alerts.configure --config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.configure import main as configure
from alerts.rule_files import load, rules
from alerts.thresholds import ALERT_ONLY, THRESHOLDS_FILE, document, literal
from alerts.thresholds import main as write_thresholds
from registry_monitor.config import Levels, Thresholds
from tests.support.check import write_config
from tests.support.runbook import RUNBOOK

ROOT = Path(__file__).resolve().parent.parent


def levels_in(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["labels"]["threshold"], r["labels"]["level"]): r["expr"] for r in rules(doc)}


def test_the_committed_rule_file_is_the_one_the_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "thresholds.yaml"
    assert write_thresholds(["--out", str(out)]) == 0
    assert out.read_text() == THRESHOLDS_FILE.read_text(), "stale: run `make generated`"


def test_alert_only_levels_are_no_config_thresholds() -> None:
    config_names = set(Thresholds._fields)
    assert not config_names & {t.threshold for t in ALERT_ONLY}
    keys = [(t.threshold, t.level) for t in ALERT_ONLY]
    assert len(keys) == len(set(keys))


def test_the_rules_take_the_config_thresholds_given() -> None:
    tuned = Thresholds(
        disk_used_percent=Levels(warning=85, critical=95.5),
        cert_lifetime_left_ratio=Levels(warning=0.3, critical=0.05),
    )
    found, defaults = levels_in(document(tuned)), levels_in(document())
    changed = {key: expr for key, expr in found.items() if defaults[key] != expr}
    assert changed == {
        ("disk_used_percent", "warning"): "vector(85)",
        ("disk_used_percent", "critical"): "vector(95.5)",
        ("cert_lifetime_left_ratio", "warning"): "vector(0.3)",
        ("cert_lifetime_left_ratio", "critical"): "vector(0.05)",
    }
    assert list(found) == list(defaults)  # the same rules, in the same order


@pytest.mark.parametrize(
    ("value", "written"), [(80, "80"), (80.0, "80"), (0.1, "0.1"), (1800.5, "1800.5"), (-3, "-3")]
)
def test_a_number_is_written_as_promql_reads_it(value: float, written: str) -> None:
    assert literal(value) == written


def test_a_level_that_is_no_number_is_refused_with_its_key() -> None:
    with pytest.raises(ValueError) as exc:
        document(Thresholds(api_latency_seconds=Levels(warning=2, critical=float("inf"))))
    assert (
        str(exc.value) == "thresholds.api_latency_seconds.critical: not a finite number (got inf)"
    )


def test_the_runbook_counts_the_threshold_series() -> None:
    count = len(list(rules(document())))
    assert f"return {count} series, one per threshold and level" in " ".join(
        RUNBOOK.read_text().split()
    )


def test_configure_writes_a_deployments_thresholds_from_its_config(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "node": "registry-03",
            "thresholds": {
                "disk_used_percent": {"warning": 70, "critical": 85},
                "standby_lag_seconds": {"warning": 900, "critical": 2700},
            },
        },
    )
    assert configure(["--out", str(tmp_path / "plain")]) == 0
    assert configure(["--out", str(tmp_path / "tuned"), "--config", str(config)]) == 0
    plain = levels_in(load(tmp_path / "plain" / "thresholds.yaml"))
    tuned = levels_in(load(tmp_path / "tuned" / "thresholds.yaml"))
    assert {k: v for k, v in tuned.items() if plain[k] != v} == {
        ("disk_used_percent", "warning"): "vector(70)",
        ("disk_used_percent", "critical"): "vector(85)",
        ("standby_lag_seconds", "warning"): "vector(900)",
        ("standby_lag_seconds", "critical"): "vector(2700)",
    }
    # every other rule file exactly as without --config
    for path in sorted((tmp_path / "plain").iterdir()):
        if path.name != "thresholds.yaml":
            assert (tmp_path / "tuned" / path.name).read_bytes() == path.read_bytes(), path.name
    done = subprocess.run(
        ["promtool", "check", "rules", "--lint=all", "--lint-fatal", "thresholds.yaml"],
        cwd=tmp_path / "tuned",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_configure_with_a_config_of_defaults_writes_what_it_writes_without(
    tmp_path: Path,
) -> None:
    """A config's numbers are validated as floats (80.0): the rules still say vector(80)."""
    active = write_config(tmp_path / "active.yaml", {"node": "a"})
    standby = write_config(tmp_path / "standby.yaml", {"node": "b", "role": "standby"})
    assert configure(["--out", str(tmp_path / "plain")]) == 0
    argv = ["--out", str(tmp_path / "both"), "--config", str(active), "--config", str(standby)]
    assert configure(argv) == 0
    written = (tmp_path / "both" / "thresholds.yaml").read_bytes()
    assert written == (tmp_path / "plain" / "thresholds.yaml").read_bytes()


def test_configure_refuses_configs_whose_thresholds_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    active = write_config(tmp_path / "active.yaml", {"node": "a"})
    standby = write_config(
        tmp_path / "standby.yaml",
        {"node": "b", "thresholds": {"cert_days_left": {"warning": 30, "critical": 7}}},
    )
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        configure(["--out", str(out), "--config", str(active), "--config", str(standby)])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python3 -m alerts.configure: error: {standby}: thresholds.cert_days_left is "
        f"{{warning: 30, critical: 7}}, but {{warning: 21, critical: 7}} in {active}: "
        "the rules hold one value for every node they judge"
    )
    assert not out.exists()


def test_configure_refuses_a_config_it_cannot_use_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("thresholds:\n  disk_used_percent: {warning: high, critical: 90}\n")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        configure(["--out", str(out), "--config", str(config)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(config) in err and "thresholds.disk_used_percent.warning" in err
    assert not out.exists()


def test_the_rule_writers_load_nothing_but_pyyaml_and_the_config_model() -> None:
    """alerts.configure runs from a clone with only Python and PyYAML (alerts/README.md):
    every module it loads is the standard library's, this tree's, or a distribution's."""
    code = """
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
before = set(sys.modules)
import alerts.configure, alerts.thresholds
owners = packages_distributions()
found = set()
for name in set(sys.modules) - before:
    file, top = getattr(sys.modules[name], "__file__", None), name.split(".")[0]
    if file is None or top in sys.stdlib_module_names:
        continue
    installed = Path(file).is_relative_to(sys.prefix) or not Path(file).is_relative_to(Path.cwd())
    found.add(owners[top][0] if installed else f"project:{top}")
print(sorted(found))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert yaml.safe_load(done.stdout) == ["PyYAML", "project:alerts", "project:registry_monitor"]
