"""Readings as JSON values: records as objects of their fields, in order."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from registry_monitor.files.sync_state import State
from registry_monitor.judging.jsonable import jsonable
from registry_monitor.judging.perfdata import Perf
from registry_monitor.judging.ranges import parse_range
from registry_monitor.probes.reading import Measured, Reading


class Inner(NamedTuple):
    count: int
    where: Path


class Outer(NamedTuple):
    name: str
    inner: Inner
    examples: tuple[str, ...]
    ratio: float


class Hides(NamedTuple):
    shown: int
    internal: object

    def json_fields(self) -> dict[str, object]:
        fields = self._asdict()
        del fields["internal"]
        return fields


@dataclass(frozen=True)
class Old:
    shown: Inner
    internal: object = field(default=None, metadata={"json": False})


def test_a_named_tuple_is_an_object_of_its_fields_in_order() -> None:
    value = Outer("x", Inner(3, Path("/a")), ("e1", "e2"), math.inf)
    assert jsonable(value) == {
        "name": "x",
        "inner": {"count": 3, "where": "/a"},
        "examples": ["e1", "e2"],
        "ratio": None,
    }
    assert list(jsonable(value)) == ["name", "inner", "examples", "ratio"]


def test_a_plain_tuple_stays_a_list() -> None:
    assert jsonable((1, (2, 3))) == [1, [2, 3]]


def test_json_fields_leaves_out_internal_data() -> None:
    assert jsonable([Hides(1, object())]) == [{"shown": 1}]


def test_a_dataclass_is_an_object_of_its_shown_fields() -> None:
    assert jsonable(Old(Inner(1, Path("b")), object())) == {"shown": {"count": 1, "where": "b"}}


def test_readings_and_perfdata_are_objects_of_their_fields_in_order() -> None:
    """The JSON they gave as dataclasses, byte for byte: /api/status and --json do not change."""
    perf = Perf("used", 85.25, "%", parse_range("80"), parse_range("@1:2"), 0, 100)
    value = {"a": (1, 2), "perf": [perf], "sync": State(last_exit_code=24)}
    shown = {
        "probe": "disk",
        "started_at": 1.5,
        "duration_seconds": 0.25,
        "value": {
            "a": [1, 2],
            "perf": [
                {
                    "label": "used",
                    "value": 85.25,
                    "uom": "%",
                    "warning": {"spec": "80", "low": 0, "high": 80, "invert": False},
                    "critical": {"spec": "@1:2", "low": 1, "high": 2, "invert": True},
                    "minimum": 0,
                    "maximum": 100,
                }
            ],
            "sync": {
                "last_run_started": None,
                "last_exit_at": None,
                "last_exit_code": 24,
                "last_success": None,
                "last_success_started": None,
                "last_duration": None,
            },
        },
        "error": "partial",
    }
    for record in (
        Reading("disk", 1.5, 0.25, value, "partial"),
        Measured("disk", 1.5, 0.25, value, "partial"),
    ):
        assert json.dumps(jsonable(record)) == json.dumps(shown)


def test_named_tuples_need_no_dataclasses_module() -> None:
    """check_registry --json on a local probe (NamedTuples only) does not import it."""
    code = (
        "import sys\n"
        "sys.modules['dataclasses'] = None  # importing it fails from here on\n"
        "from registry_monitor.files.sync_state import State\n"
        "from registry_monitor.judging.jsonable import jsonable\n"
        "from registry_monitor.judging.perfdata import Perf\n"
        "print(jsonable({'p': [Perf('a', 1)], 's': State(last_duration=2.0)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stderr == ""
    assert done.stdout == (
        "{'p': [{'label': 'a', 'value': 1, 'uom': '', 'warning': None, 'critical': None, "
        "'minimum': None, 'maximum': None}], 's': {'last_run_started': None, "
        "'last_exit_at': None, 'last_exit_code': None, 'last_success': None, "
        "'last_success_started': None, 'last_duration': 2.0}}\n"
    )


def test_a_state_file_nested_past_the_recursion_limit_is_a_fresh_start(tmp_path: Path) -> None:
    from registry_monitor.files.statefile import load

    path = tmp_path / "state.json"
    path.write_bytes(b"[" * 20_000)
    assert load(path) == (
        {},
        f"state file {path} is not usable (nested too deeply); starting afresh",
    )
