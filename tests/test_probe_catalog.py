"""The probe catalog is the one list of probes: every entry has both faces, nothing lives beside it."""

import importlib
import inspect
import pkgutil
import typing
from pathlib import Path

import pytest

from registry_monitor import probe_catalog
from registry_monitor.config import Config
from registry_monitor.config.validation import parse_config
from registry_monitor.probe_catalog import PROBES, ProbeSpec

ROOT = Path(__file__).resolve().parent.parent


def _module(name: str) -> object | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but fails inside: show that, not "missing"
            raise
        return None


def missing_parts(spec: ProbeSpec) -> list[str]:
    """What a declared probe lacks: its probe class, its verdict, its renderer."""
    missing = []
    module_name, _, class_name = spec.probe_class.partition(":")
    module = _module(module_name)
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        missing.append(f"probe class {spec.probe_class}")
    elif getattr(cls, "name", None) != spec.name:
        missing.append(f"{spec.probe_class}.name == {spec.name!r}")
    verdict = _module(spec.verdict_module)
    for function in ("thresholds", "judge"):
        if not callable(getattr(verdict, function, None)):
            missing.append(f"{spec.verdict_module}.{function}")
    renderer = f"exporter.metrics.{spec.name}"
    if not callable(getattr(_module(renderer), "render", None)):
        missing.append(f"{renderer}.render")
    return missing


@pytest.mark.parametrize("spec", PROBES, ids=[s.name for s in PROBES])
def test_every_declared_probe_has_its_class_verdict_and_renderer(spec: ProbeSpec) -> None:
    assert missing_parts(spec) == []


def test_a_probe_without_faces_is_reported() -> None:
    ghost = ProbeSpec("ghost", "registry_monitor.probes.ghost:GhostProbe", ("active",), 1, 1)
    assert missing_parts(ghost) == [
        "probe class registry_monitor.probes.ghost:GhostProbe",
        "registry_monitor.judging.verdicts.ghost.thresholds",
        "registry_monitor.judging.verdicts.ghost.judge",
        "exporter.metrics.ghost.render",
    ]
    wrong_name = ProbeSpec("api", "registry_monitor.probes.disk:DiskProbe", ("active",), 1, 1)
    assert missing_parts(wrong_name) == ["registry_monitor.probes.disk:DiskProbe.name == 'api'"]


def _defining(package: str, function: str) -> set[str]:
    """Modules of a package that define `function` (a verdict's judge, a renderer's render)."""
    path = ROOT.joinpath(*package.split("."))
    found = set()
    for info in pkgutil.iter_modules([str(path)]):
        module = importlib.import_module(f"{package}.{info.name}")
        if inspect.isfunction(getattr(module, function, None)):
            found.add(info.name)
    return found


def test_no_face_without_a_declared_probe() -> None:
    declared = set(probe_catalog.NAMES)
    assert _defining("registry_monitor.judging.verdicts", "judge") == declared
    assert _defining("exporter.metrics", "render") == declared


def test_config_has_an_interval_and_time_out_per_probe_with_the_declared_defaults() -> None:
    config = Config(node="n")  # also checks that no default time-out exceeds its interval
    assert {s.name: config.intervals.of(s.name) for s in PROBES} == {
        s.name: s.interval for s in PROBES
    }
    assert {s.name: config.timeouts.of(s.name) for s in PROBES} == {
        s.name: s.timeout for s in PROBES
    }
    hints = typing.get_type_hints(type(config.intervals))
    assert tuple(hints) == probe_catalog.NAMES


def test_every_switch_is_a_config_key_that_may_be_null() -> None:
    hints = typing.get_type_hints(Config)
    switches = {s.switch.key for s in PROBES if s.switch is not None}
    for key in switches:
        assert hints[key] == bool | None, key


def test_roles_and_switch_decide_which_probes_run() -> None:
    standby_writing = Config(node="n", role="standby", write_probe=True).probes_for_role()
    assert standby_writing == (
        "disk",
        "services",
        "api",
        "cert",
        "write",
        "storage",
        "sync",
        "standby",
        "pull",
        "parity",
    )
    for spec in PROBES:
        for role in ("active", "standby"):
            runs = role in spec.roles and spec.needs is None  # a needed key is unset by default
            assert Config(node="n", role=role).runs(spec.name) == runs


def test_a_needed_key_turns_its_probe_on_for_every_role() -> None:
    needy = [s for s in PROBES if s.needs is not None]
    assert [s.name for s in needy] == ["traffic"]
    log = {"access_log": {"path": "/var/log/nginx/access.log"}}
    for role in ("active", "standby"):
        config = parse_config({"node": "n", "role": role, **log})
        assert config.probes_for_role()[-1] == "traffic"
        assert "traffic" not in Config(node="n", role=role).probes_for_role()
