"""The probe catalog is the one list of probes: every entry has both faces, nothing lives beside it."""

import ast
import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path

import pytest

from checks import arguments
from registry_monitor import probe_catalog
from registry_monitor.config import Config
from registry_monitor.config.validation import parse_config
from registry_monitor.judging import readiness
from registry_monitor.judging.verdict import Options, UsageError
from registry_monitor.probe_catalog import PROBES, ProbeSpec
from tests.support.name_cases import special_cases

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


# The faces ask the catalog what is special about a probe; they never compare its name.
FACES = ("exporter", "checks")


def test_no_face_singles_out_a_probe_by_name() -> None:
    assert special_cases(ROOT, FACES, probe_catalog.NAMES) == []


def test_a_special_case_by_name_is_found(tmp_path: Path) -> None:
    (tmp_path / "exporter").mkdir()
    (tmp_path / "checks").mkdir()
    (tmp_path / "exporter" / "cli.py").write_text(
        "def build(name, probe, config):\n"
        '    if name == "storage":\n'
        "        probe = wrap(probe)\n"
        '    if config.role == "standby":\n'  # a role, not a probe
        "        pass\n"
        "    match name:\n"
        '        case "traffic":\n'
        "            pass\n"
        '    return readings.get("storage")\n'  # asking for a reading is not a special case
    )
    (tmp_path / "checks" / "plugin.py").write_text(
        'CERT_READERS = frozenset({"cert", "parity"})\n'
        'OPTIONS = {"traffic": 1, "disk": 2}\n'
        'def options(name):\n    return name in ("write",)\n'
    )
    assert special_cases(tmp_path, FACES, probe_catalog.NAMES) == [
        "checks/plugin.py:1: cert, parity",
        "checks/plugin.py:2: traffic, disk",
        "checks/plugin.py:4: write",
        "exporter/cli.py:2: storage",
        "exporter/cli.py:7: traffic",
    ]


def test_the_failover_judgement_reads_the_declared_probes_in_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parts = sorted(s.failover_part for s in PROBES if s.failover_part is not None)
    assert parts == list(range(1, len(parts) + 1))  # one place each, none skipped
    assert readiness.PROBES == probe_catalog.FAILOVER_PROBES
    assert sorted(readiness.PARTS) == sorted(readiness.PROBES)  # each has its part, only they
    # the order is the catalog's alone, whatever PARTS' order
    judged: list[str] = []

    def part(name: str) -> typing.Callable[[object], None]:
        return lambda _assessment: judged.append(name)

    monkeypatch.setattr(readiness, "PARTS", {name: part(name) for name in sorted(readiness.PARTS)})
    readiness.assess_readiness(Config(role="standby"), {}, 1000.0)
    assert judged == list(probe_catalog.FAILOVER_PROBES)


@pytest.mark.parametrize("spec", PROBES, ids=[s.name for s in PROBES])
def test_help_names_the_thresholds_of_exactly_the_probes_that_take_them(spec: ProbeSpec) -> None:
    verdict = importlib.import_module(spec.verdict_module)
    try:
        verdict.thresholds(Config(node="n"), Options(warning="10"))
        takes = True
    except UsageError as exc:  # a refusal, not a value this probe reads otherwise
        takes = not str(exc).startswith(f"{spec.name} does not take -w")
    assert takes == bool(spec.threshold_help)
    lines = arguments.EPILOG.splitlines()
    first = lines.index(f"    {spec.name:<10}{spec.threshold_help[0]}") if takes else None
    if first is not None:
        following = [f"{'':14}{text}" for text in spec.threshold_help[1:]]
        assert lines[first + 1 : first + len(spec.threshold_help)] == following


def test_the_shared_scanner_and_the_inventory_go_to_the_probes_declared() -> None:
    assert [s.name for s in PROBES if s.uses_scanner] == ["storage", "standby"]
    assert [s.name for s in PROBES if s.serves_inventory] == ["storage"]
    assert [s.name for s in PROBES if s.windowed] == ["traffic"]
    assert [s.name for s in PROBES if s.reads_certificates] == ["cert", "parity"]
    for spec in PROBES:  # a class built with the scanner takes it as its second argument
        module_name, _, class_name = spec.probe_class.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        second = list(inspect.signature(cls).parameters)[1:2]
        assert (second == ["scanner"]) == spec.uses_scanner, spec.name


def test_the_catalog_is_plain_data() -> None:
    """Every check imports it: its module imports nothing beyond typing."""
    tree = ast.parse((ROOT / "registry_monitor" / "probe_catalog.py").read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"__future__", "typing"}


# Every file a probe brings, as docs/adding-a-probe.md lists them; {name} is the probe's,
# {module} its probe module's path. Each entry: (path, text it must hold, or None).
PROBE_FILES: tuple[tuple[str, str | None], ...] = (
    ("{module}", None),
    ("registry_monitor/judging/verdicts/{name}.py", None),
    ("exporter/metrics/{name}.py", None),
    ("docs/metrics.md", "\n| `{name}` |"),  # its row in the table of probes
    ("docs/check_registry.md", "\n| `{name}`"),  # its row in the table of states
    ("icinga2/registry-monitor.conf", 'object CheckCommand "registry_{name}" {{'),
)
# its tests on real daemons: the reading, or check_registry's states (one file at least)
PROBE_TESTS = ("tests/test_probe_{name}.py", "tests/test_check_{name}.py")
CONFIGURATION = "docs/configuration.md"  # the rows of intervals.<probe> and timeouts.<probe>


def documented_defaults(root: Path, key: str) -> dict[str, str]:
    """The defaults the configuration page gives in its `<key>.<probe>` row, by probe."""
    path = root / CONFIGURATION
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    row = next((line for line in lines if line.startswith(f"| `{key}.<probe>` |")), "| | |")
    pairs = (item.strip().partition(" ") for item in row.split("|")[2].split(","))
    return {name: value for name, _, value in pairs if name}


def missing_files(root: Path, spec: ProbeSpec) -> list[str]:
    module = spec.probe_class.partition(":")[0].replace(".", "/") + ".py"
    missing = []
    for template, text in PROBE_FILES:
        path = template.format(name=spec.name, module=module)
        if not (root / path).is_file():
            missing.append(path)
        elif text is not None and text.format(name=spec.name) not in (root / path).read_text():
            missing.append(f"{path}: {text.format(name=spec.name).strip()}")
    for key, default in (("intervals", spec.interval), ("timeouts", spec.timeout)):
        if documented_defaults(root, key).get(spec.name) != f"{default:g}":
            missing.append(f"{CONFIGURATION}: {key}.<probe> {spec.name} {default:g}")
    tests = [t.format(name=spec.name) for t in PROBE_TESTS]
    if not any((root / t).is_file() for t in tests):
        missing.append(" or ".join(tests))
    return missing


@pytest.mark.parametrize("spec", PROBES, ids=[s.name for s in PROBES])
def test_every_probe_brings_its_files(spec: ProbeSpec) -> None:
    assert missing_files(ROOT, spec) == []


def test_a_probe_without_its_files_is_reported(tmp_path: Path) -> None:
    ghost = ProbeSpec("ghost", "registry_monitor.probes.ghost:GhostProbe", ("active",), 60, 9)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "configuration.md").write_text(
        "| `intervals.<probe>` | disk 15, ghost 60 | s |\n| `timeouts.<probe>` | ghost 10 | s |\n"
    )
    (tmp_path / "tests").mkdir()
    assert missing_files(tmp_path, ghost) == [
        "registry_monitor/probes/ghost.py",
        "registry_monitor/judging/verdicts/ghost.py",
        "exporter/metrics/ghost.py",
        "docs/metrics.md",
        "docs/check_registry.md",
        "icinga2/registry-monitor.conf",
        "docs/configuration.md: timeouts.<probe> ghost 9",  # 10 there
        "tests/test_probe_ghost.py or tests/test_check_ghost.py",
    ]
    (tmp_path / "tests" / "test_check_ghost.py").write_text("")
    assert missing_files(tmp_path, ghost)[-1] == "docs/configuration.md: timeouts.<probe> ghost 9"


ADDING_A_PROBE = "docs/adding-a-probe.md"


def documented_files(root: Path) -> list[str]:
    """The paths in the first column of the page's table of files a probe brings, sorted."""
    lines = (root / ADDING_A_PROBE).read_text(encoding="utf-8").splitlines()
    start = lines.index("## The files a probe brings")
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("| ") and not line.startswith(("| file |", "| --- |")):
            rows.append(line.split("|")[1])
    return sorted(path for row in rows for path in re.findall(r"`([^`]+)`", row))


def test_the_page_lists_the_files_this_test_asks_for() -> None:
    """The page's example probe is pull: its table is PROBE_FILES, the tests and the
    configuration page's rows, nothing more and nothing less."""
    module = probe_catalog.spec("pull").probe_class.partition(":")[0].replace(".", "/") + ".py"
    asked = [t.format(name="pull", module=module) for t, _ in PROBE_FILES]
    asked += [t.format(name="pull") for t in PROBE_TESTS]
    assert documented_files(ROOT) == sorted([*asked, CONFIGURATION])
