"""Arrows only downward: the core imports no face, no face imports the other, and
check_registry never loads the web stack, nor requests/urllib3.

The static half reads every import of the source tree with `ast` (top-level,
function-local, under TYPE_CHECKING, relative, and importlib.import_module with
a literal name). The running half runs the installed check_registry for every
probe and `all`, each probe really running on a live registry, and reads
sys.modules as the process ends: that also sees what third-party libraries
pull in. Each check of a local probe (disk, services, sync, storage) is held to
a list of what it must not load.
"""

from __future__ import annotations

import ast
import getpass
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_monitor import probe_catalog
from testbed.certs import issue_via_intermediate
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.rsync import SyncUnit
from testbed.systemd import FakeSystemd
from tests.conftest import REGISTRY_NAME
from tests.support.check import CHECK_REGISTRY, write_config
from tests.support.import_graph import absolute_name, reached

ROOT = Path(__file__).resolve().parent.parent
WEB_STACK = ("fastapi", "starlette", "uvicorn", "prometheus_client")
# The probes' HTTP is requests: loaded only by the checks of the probes that make HTTP calls.
HTTP_LIBRARIES = ("requests", "urllib3", "charset_normalizer", "idna", "certifi")
HTTP_PROBES = ("api", "write", "standby", "pull", "parity")
# What each package may not import, directly or through a module it names.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "registry_monitor": ("exporter", "checks", *WEB_STACK),  # the core
    "exporter": ("checks",),  # the web face
    "checks": ("exporter", *WEB_STACK),  # the plugin face
}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a file, wherever in the file it is."""
    current = module_name(root, path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = absolute_name(current, is_package, node.level, node.module)
            if node.module:
                yield node.lineno, base
            else:  # `from . import x`: x is a module of that package
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Call) and _names_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def _names_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def violations(root: Path) -> list[str]:
    found = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, name in sorted(imported_names(root, path)):
                top = name.split(".")[0]
                if top in forbidden:
                    found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


def test_the_core_imports_no_face_and_no_face_the_other() -> None:
    assert violations(ROOT) == []


def test_every_kind_of_import_is_seen(tmp_path: Path) -> None:
    core = tmp_path / "registry_monitor" / "probes"
    core.mkdir(parents=True)
    (core.parent / "__init__.py").write_text("from . import config\nfrom .. import checks\n")
    (core / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from exporter.server import create_app\n"
    )
    (core / "x.py").write_text(
        "import importlib\n"
        "from ..config import Config\n"
        "def f():\n"
        "    import prometheus_client.core\n"
        "    return importlib.import_module('exporter.metrics.disk')\n"
    )
    (tmp_path / "exporter").mkdir()
    (tmp_path / "exporter" / "__init__.py").write_text("import checks.plugin\nimport fastapi\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "plugin.py").write_text(
        "from registry_monitor.config import Config\nfrom exporter import cli\n"
    )
    assert violations(tmp_path) == [
        "registry_monitor/__init__.py:2 imports checks",
        "registry_monitor/probes/__init__.py:3 imports exporter.server",
        "registry_monitor/probes/x.py:4 imports prometheus_client.core",
        "registry_monitor/probes/x.py:5 imports exporter.metrics.disk",
        "exporter/__init__.py:1 imports checks.plugin",
        "checks/plugin.py:2 imports exporter",
    ]


PROBE_MODULES = frozenset(s.probe_class.partition(":")[0] for s in probe_catalog.PROBES)


def probes_importing_probes(root: Path, probe_modules: frozenset[str]) -> list[str]:
    """Each probe module that, when imported, runs another probe's module: directly, through
    a helper, or through a shared module above it (import_graph.reached says what runs)."""
    return [
        f"{module} imports {other}"
        for module in sorted(probe_modules)
        for other in sorted(reached(root, module) & probe_modules)
        if other != module
    ]


def test_no_probe_module_imports_another() -> None:
    """What two probes share lives below both (files/, tls/, storage/, clients/)."""
    assert probes_importing_probes(ROOT, PROBE_MODULES) == []


def test_a_probe_reaching_another_through_a_helper_is_found(tmp_path: Path) -> None:
    probes = tmp_path / "registry_monitor" / "probes"
    probes.mkdir(parents=True)
    (probes.parent / "__init__.py").write_text("")
    (probes.parent / "shared.py").write_text("from registry_monitor.probes.c import X\n")
    (probes / "__init__.py").write_text("")
    (probes / "a.py").write_text("from . import helper\n")
    (probes / "helper.py").write_text("def f():\n    from registry_monitor.probes import b\n")
    (probes / "b.py").write_text("from registry_monitor import shared\n")
    (probes / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from registry_monitor.probes.a import A\n"  # never runs: not an import
    )
    modules = frozenset(f"registry_monitor.probes.{n}" for n in "abc")
    assert probes_importing_probes(tmp_path, modules) == [
        "registry_monitor.probes.a imports registry_monitor.probes.b",
        "registry_monitor.probes.a imports registry_monitor.probes.c",
        "registry_monitor.probes.b imports registry_monitor.probes.c",
    ]


def test_no_probe_runs_the_judging() -> None:
    """Probes measure and judging judges their readings: judging imports probes, so a probe
    that ran judging (a time format, through a helper) would make the two layers one."""
    assert {
        module: sorted(m for m in reached(ROOT, module) if m.startswith("registry_monitor.judging"))
        for module in sorted(PROBE_MODULES)
    } == {module: [] for module in sorted(PROBE_MODULES)}


# Runs the installed console script as it is, and writes the names in sys.modules to a file
# when it ends, however it ends (sys.exit, or os._exit when a probe thread is stuck).
RECORD_MODULES = """
import json, os, runpy, sys
record, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
def dump():
    with open(record, "w") as f:
        json.dump(sorted(sys.modules), f)
real_exit = os._exit
def exit_now(code):
    dump()
    real_exit(code)
os._exit = exit_now
try:
    runpy.run_path(script, run_name="__main__")
finally:
    dump()
"""


def check_path_modules(tmp_path: Path, *argv: str) -> tuple[str, set[str]]:
    """check_registry's stdout and every module it had loaded when it ended."""
    record = tmp_path / "modules.json"
    record.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", RECORD_MODULES, str(record), CHECK_REGISTRY, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1, 2, 3), done.stderr
    return done.stdout, set(json.loads(record.read_text()))


@pytest.fixture
def standby_writing(
    registry_node: dict[str, object],
    sync_unit: SyncUnit,
    start_exporter: Callable[..., Exporter],
    tmp_path: Path,
) -> Path:
    """A node that runs every probe: standby role, write probe on, a live active exporter,
    an access log to follow."""
    active = start_exporter({**registry_node, "node": "active", "role": "active"}, ("storage",))
    access_log = tmp_path / "access.log"
    access_log.write_text("")
    node = {
        "access_log": {"path": str(access_log)},
        **registry_node,
        "node": "standby",
        "role": "standby",
        "write_probe": True,
        "active_exporter_url": active.url,
        "state_dir": str(tmp_path / "standby-state"),
    }
    return write_config(tmp_path / "standby.yaml", node)


def test_the_check_path_never_loads_the_web_stack_and_requests_only_for_http(
    standby_writing: Path, tmp_path: Path
) -> None:
    for target in (*probe_catalog.NAMES, "all"):
        stdout, modules = check_path_modules(
            tmp_path, f"--config={standby_writing}", target, "-t", "20"
        )
        assert stdout.startswith(f"REGISTRY {target.upper()} "), stdout
        ran = probe_catalog.NAMES if target == "all" else (target,)
        for name in ran:  # the probe really ran, and its verdict judged it
            assert f"registry_monitor.probes.{name}" in modules, (target, name)
            assert f"registry_monitor.judging.verdicts.{name}" in modules, (target, name)
        web = sorted(m for m in modules if m.split(".")[0] in (*WEB_STACK, "exporter"))
        assert web == [], f"check_registry {target} loaded {web}"
        if target in (*HTTP_PROBES, "all"):  # its HTTP went through requests
            assert {"registry_monitor.clients.http", "requests"} <= modules, target
        else:
            heavy = sorted(m for m in modules if m.split(".")[0] in HTTP_LIBRARIES)
            assert heavy == [], f"check_registry {target} loaded {heavy}"


# What a check of a probe that does no I/O beyond this host must not load (a cached config,
# an unchanged sync state): the network stack, the YAML parser, and the stdlib modules that
# only other probes or rare branches need (shutil: argparse's terminal width; tempfile: a
# changed state file; _strptime: systemd's timestamps are read by a pattern).
LOCAL_NEVER = (
    *WEB_STACK,
    "requests",
    "urllib3",
    "ssl",
    "http.client",
    "cryptography",
    "email",
    "logging",
    "yaml",
    "msgspec",  # the Config is cached validated
    # its types and the readings' are NamedTuples: dataclasses compile their methods with
    # exec on every start, and the module loads inspect, ast and dis (bench/check_path.py)
    "dataclasses",
    "inspect",
    "registry_monitor.config.validation",
    "shutil",
    "bz2",
    "lzma",
    "tempfile",
    "random",
    "_strptime",
    "calendar",
)
NOT_LOADED: dict[str, tuple[str, ...]] = {
    "disk": (*LOCAL_NEVER, "hashlib", "zlib", "registry_monitor.clients.systemd"),
    "services": (*LOCAL_NEVER, "hashlib", "zlib"),  # datetime: psutil's
    # systemd's timestamps come as "@<unix>": no datetime to read them
    "sync": (*LOCAL_NEVER, "hashlib", "zlib", "psutil", "datetime"),
    "storage": (
        *LOCAL_NEVER,
        "psutil",
        "subprocess",
        "registry_monitor.clients.systemd",
        "registry_monitor.storage.inventory_wire",  # only the exporter and the standby
        "hashlib",  # OpenSSL's sha256: only past the first MiB of blobs verified
        "_hashlib",
        "datetime",  # only to read an upload's start time
    ),
}


def test_a_local_probes_check_loads_nothing_it_does_not_use(
    registry: Registry, sync_unit: SyncUnit, systemd: FakeSystemd, tmp_path: Path
) -> None:
    Pusher(registry.url).push_image("base", "latest")
    systemd.set_unit("docker-registry.service")
    systemd.set_unit("nginx.service")
    systemd.set_unit("rsync.service")
    sync_unit.record(0, systemd.ago(30), systemd.ago(20))
    node = {
        "data_dir": str(registry.data_dir),
        "state_dir": str(tmp_path / "state"),
        "registry_user": getpass.getuser(),
    }
    configs = {
        "active": write_config(tmp_path / "active.yaml", {**node, "write_probe": False}),
        "standby": write_config(tmp_path / "standby.yaml", {**node, "role": "standby"}),
    }
    for probe, never in NOT_LOADED.items():
        config = configs["standby" if probe == "sync" else "active"]
        # the first run caches the parsed config and saves the sync state; Icinga's next
        # runs find both unchanged
        check_path_modules(tmp_path, f"--config={config}", probe)
        stdout, modules = check_path_modules(tmp_path, f"--config={config}", probe)
        assert stdout.startswith(f"REGISTRY {probe.upper()} OK - "), stdout
        assert f"registry_monitor.probes.{probe}" in modules
        loaded = sorted(m for m in modules if m in never or m.split(".")[0] in never)
        assert loaded == [], f"check_registry {probe} loaded {loaded}"


def test_a_healthy_cert_checks_next_run_loads_no_cryptography(
    registry: Registry, tmp_path: Path
) -> None:
    """nginx serving cert_file's chain (leaf and intermediate), cert_key_file its key: the
    first run reads the certificates with cryptography and keeps their facts; the next
    ones answer the same from what OpenSSL verified and the kept facts alone."""
    chain = issue_via_intermediate(tmp_path / "live", REGISTRY_NAME, days=60, intermediate_days=90)
    nginx = Nginx(
        tmp_path / "nginx", registry.url, REGISTRY_NAME, chain.files.cert, chain.files.key
    ).start()
    config = write_config(
        tmp_path / "cert.yaml",
        {
            "data_dir": str(registry.data_dir),
            "public_url": f"https://{REGISTRY_NAME}",
            "public_connect": nginx.connect,
            "ca_file": str(chain.ca_file),
            "cert_file": str(chain.files.cert),
            "cert_key_file": str(chain.files.key),
        },
    )
    try:
        runs = [check_path_modules(tmp_path, f"--config={config}", "cert", "-v") for _ in "ab"]
        parity, loaded_by_parity = check_path_modules(tmp_path, f"--config={config}", "parity")
    finally:
        nginx.stop()
    (first, loaded_first), (second, loaded_second) = runs
    figures = re.compile(r"\d+(\.\d+)?")  # the days left move on between the runs
    assert figures.sub("N", first) == figures.sub("N", second)
    lines = second.splitlines()
    assert lines[0].startswith("REGISTRY CERT OK - served certificate valid, "), second
    assert f"[OK] key {chain.files.key} matches {chain.files.cert}" in lines
    assert f"[OK] nginx serves the certificate in {chain.files.cert}" in lines
    expiring = "intermediate CN=Test Intermediate expires in"
    assert [line.split(": ", 1)[0] for line in lines if expiring in line] == [
        f"[OK] served certificate of {REGISTRY_NAME}:443",
        f"[OK] {chain.files.cert}",
    ]
    assert "file_valid=1" in lines[0] and "key_matches=1" in lines[0]
    assert "cryptography" in loaded_first  # real figures: the first run read them
    assert "registry_monitor.probes.cert" in loaded_second
    heavy = ("cryptography", "registry_monitor.tls.chain_verify")
    assert sorted(m for m in loaded_second if m.startswith(heavy)) == []
    # parity fingerprints both certificates as the cert probe reads them, from the same facts
    assert parity.startswith("REGISTRY PARITY "), parity
    assert "registry_monitor.probes.parity" in loaded_by_parity
    assert sorted(m for m in loaded_by_parity if m.startswith(heavy)) == []
