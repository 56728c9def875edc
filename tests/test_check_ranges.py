"""Threshold ranges against the Monitoring Plugins guidelines' own table and grammar."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from registry_monitor.judging.ranges import (
    RangeError,
    Threshold,
    ceiling,
    floor,
    parse_floor,
    parse_range,
)
from registry_monitor.judging.state import State

# The guidelines' examples: range -> values that alert / that do not.
TABLE = [
    ("10", [-1, -0.5, 10.5, 11, 1e9], [0, 5, 10]),
    ("10:", [-1e9, 0, 9.99], [10, 11, 1e9]),
    ("~:10", [10.01, 11, 1e9], [-1e9, 0, 10]),
    ("10:20", [-1, 9.999, 20.001, 100], [10, 15, 20]),
    ("@10:20", [10, 15, 20], [-1, 9.999, 20.001, 100]),
]


@pytest.mark.parametrize(("spec", "alert", "quiet"), TABLE)
def test_guideline_table(spec: str, alert: list[float], quiet: list[float]) -> None:
    r = parse_range(spec)
    assert [v for v in alert if r.alerts(v)] == alert
    assert [v for v in quiet if r.alerts(v)] == []


def numerals() -> st.SearchStrategy[str]:
    integer = st.integers(-(10**6), 10**6).map(str)
    decimal = st.tuples(st.integers(-(10**6), 10**6), st.integers(0, 999)).map(
        lambda t: f"{'-' if t[0] < 0 else ''}{abs(t[0])}.{t[1]:03d}"
    )
    return st.one_of(integer, decimal)


@st.composite
def range_specs(draw: st.DrawFn) -> tuple[str, bool, float, float]:
    """(spec, invert, start, end) built from the grammar's parts."""
    invert = draw(st.booleans())
    start_text = draw(st.one_of(st.none(), st.just("~"), numerals()))
    end_text = draw(st.one_of(st.none(), numerals()) if start_text else numerals())
    start = -math.inf if start_text == "~" else float(start_text) if start_text else 0.0
    end = float(end_text) if end_text is not None else math.inf
    spec = ("@" if invert else "") + (f"{start_text}:" if start_text else "") + (end_text or "")
    return spec, invert, start, end


def oracle(invert: bool, start: float, end: float, value: float) -> bool:
    """The guidelines in words: alert outside start..end (inclusive), or inside with '@'."""
    inside = start <= value <= end
    return inside if invert else not inside


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e7, max_value=1e7),
    numerals().map(float),
)


@given(range_specs(), values)
@example(("10", False, 0.0, 10.0), 10.0)
@example(("@10:20", True, 10.0, 20.0), 20.0)
@example(("~:0", False, -math.inf, 0.0), -0.0)
def test_matches_the_guidelines(spec: tuple[str, bool, float, float], value: float) -> None:
    text, invert, start, end = spec
    if start > end:
        with pytest.raises(RangeError, match="is greater than end"):
            parse_range(text)
        return
    r = parse_range(text)
    assert r.alerts(value) is oracle(invert, start, end, value)
    # the canonical form printed in perfdata means the same thing
    again = parse_range(str(r))
    assert (again.invert, again.start, again.end) == (invert, start, end)
    assert again.alerts(value) is r.alerts(value)


@given(range_specs(), values)
def test_bounds_are_inclusive(spec: tuple[str, bool, float, float], value: float) -> None:
    text, invert, start, end = spec
    if start > end:
        return
    r = parse_range(text)
    for bound in (start, end):
        if math.isfinite(bound):
            assert r.alerts(bound) is invert


@given(st.text(max_size=12))
def test_anything_off_the_grammar_is_refused(text: str) -> None:
    import re

    numeral = r"-?[0-9]+(?:\.[0-9]+)?"
    grammar = rf"@?(?:(?:~|{numeral}):)?(?:{numeral})?"
    well_formed = re.fullmatch(grammar, text) is not None and re.search(r"[0-9~]", text)
    try:
        parse_range(text)
    except RangeError:
        return
    assert well_formed, f"{text!r} was accepted"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@",
        ":",
        ":10",
        " 5",
        "5 ",
        "1_0",
        "1e3",
        ".5",
        "5.",
        "~",
        "10:~",
        "\u0661\u0660",
        "nan",
        "1:2:3",
        "@@1",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(RangeError, match="is not a range"):
        parse_range(text)


@pytest.mark.parametrize("digits", [309, 400, 4301, 10_000])
def test_numbers_past_a_float_are_refused_as_too_large(digits: int) -> None:
    big = "9" * digits
    for text in (big, f"{big}:", f"~:{big}", f"@1:{big}", f"-{big}:0"):
        with pytest.raises(RangeError) as err:
            parse_range(text)
        assert str(err.value).endswith("is too large"), str(err.value)
        assert len(str(err.value)) < 120


def test_start_above_end_is_refused_with_the_reason() -> None:
    with pytest.raises(RangeError) as err:
        parse_range("20:10")
    assert str(err.value) == "'20:10' is not a range: start 20 is greater than end 10"
    with pytest.raises(RangeError) as err:
        parse_range("-5")
    assert str(err.value) == "'-5' is not a range: start 0 is greater than end -5"


def test_floor_reads_a_bare_number_as_fewer_than() -> None:
    r = parse_floor("21")
    assert str(r) == "21:"
    assert [d for d in (-3, 0, 20.99, 21, 22, 400) if r.alerts(d)] == [-3, 0, 20.99]
    assert str(parse_floor("@0:30")) == "@30"
    assert str(parse_floor("~:10")) == "~:10"


def test_config_levels() -> None:
    assert (str(ceiling(80.0)), str(ceiling(0.5)), str(floor(7)), str(floor(7.25))) == (
        "80",
        "0.5",
        "7:",
        "7.25:",
    )


def test_threshold_states_and_explanations() -> None:
    t = Threshold(parse_range("80"), parse_range("90"))
    assert [t.state(v) for v in (0, 80, 80.01, 90, 90.5)] == [
        State.OK,
        State.OK,
        State.WARNING,
        State.WARNING,
        State.CRITICAL,
    ]
    assert (t.explain(50), t.explain(85), t.explain(95)) == (
        "",
        "(warning > 80)",
        "(critical > 90)",
    )
    days = Threshold(parse_floor("21"), parse_floor("7"))
    assert (days.state(30), days.state(20), days.state(6.9)) == (
        State.OK,
        State.WARNING,
        State.CRITICAL,
    )
    assert days.explain(3) == "(critical < 7)"
    inside = Threshold(critical=parse_range("@10:20"))
    assert inside.explain(15) == "(critical within 10..20)"
    assert str(Threshold()) == "none"
