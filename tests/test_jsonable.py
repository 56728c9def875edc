"""Readings as JSON values: records as objects of their fields, in order."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from registry_monitor.judging.jsonable import jsonable


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


def test_a_state_file_nested_past_the_recursion_limit_is_a_fresh_start(tmp_path: Path) -> None:
    from registry_monitor.files.statefile import load

    path = tmp_path / "state.json"
    path.write_bytes(b"[" * 20_000)
    assert load(path) == (
        {},
        f"state file {path} is not usable (nested too deeply); starting afresh",
    )
