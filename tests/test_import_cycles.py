"""No module of the project imports itself round through others, not even through an import
written inside a function (tests/support/import_graph.py says what counts)."""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import cycles

ROOT = Path(__file__).resolve().parent.parent


def test_the_project_has_no_import_cycle() -> None:
    assert cycles(ROOT) == []


def test_a_cycle_closed_inside_a_function_is_found(tmp_path: Path) -> None:
    core = tmp_path / "registry_monitor"
    (core / "config").mkdir(parents=True)
    (core / "__init__.py").write_text("")
    (core / "config" / "__init__.py").write_text(
        "def load():\n    from registry_monitor.config import validation\n"
    )
    (core / "config" / "validation.py").write_text("from registry_monitor import config\n")
    (core / "a.py").write_text("from . import b\nfrom registry_monitor import typed\n")
    (core / "b.py").write_text("import importlib\nimportlib.import_module('registry_monitor.a')\n")
    (core / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from registry_monitor import a\n"
    )
    (core / "c.py").write_text("from registry_monitor import typed\n")
    # Importing exporter.config.rules runs exporter/config/__init__ first, which imports
    # the catalog that is importing it: a cycle though neither names the other module.
    face = tmp_path / "exporter"
    (face / "config").mkdir(parents=True)
    (face / "__init__.py").write_text("")
    (face / "config" / "__init__.py").write_text("from exporter import catalog\n")
    (face / "config" / "rules.py").write_text("")
    (face / "catalog.py").write_text("from exporter.config import rules\n")
    assert cycles(tmp_path, ["registry_monitor", "exporter"]) == [
        ["exporter.catalog", "exporter.config"],
        ["registry_monitor.a", "registry_monitor.b"],
        ["registry_monitor.config", "registry_monitor.config.validation"],
    ]
