"""Perfdata as written, and the strict reader the other check tests hold every answer to."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_monitor.judging.numerals import numeral
from registry_monitor.judging.perfdata import Perf, quote_label, render
from registry_monitor.judging.ranges import parse_floor, parse_range
from tests.support.icinga import assert_icinga_reads, icinga_parse
from tests.support.perfdata import PerfdataError, parse_output, parse_perfdata


def test_full_item() -> None:
    p = Perf("used_percent", 85.25, "%", parse_range("80"), parse_range("90"), 0, 100)
    assert str(p) == "used_percent=85.25%;80;90;0;100"


def test_trailing_empty_fields_are_dropped_inner_ones_kept() -> None:
    assert str(Perf("inodes", 12)) == "inodes=12"
    assert str(Perf("avail", 5, "B", minimum=0)) == "avail=5B;;;0"
    assert str(Perf("days", 3.5, critical=parse_floor("7"))) == "days=3.5;;7:"


def test_no_exponents() -> None:
    assert str(Perf("t", 1e-05, "s")) == "t=0.00001s"
    assert str(Perf("b", 1e16, "B")) == "b=10000000000000000B"
    assert numeral(-0.0) == "0"
    with pytest.raises(ValueError, match="cannot be written"):
        numeral(float("nan"))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numerals_are_the_repr_written_out_in_full(value: float) -> None:
    text = numeral(value)
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?", text), text
    assert Decimal(text) == Decimal(repr(value))  # exactly the shortest repr's value
    assert float(text) == value


def test_labels_are_quoted_and_escaped() -> None:
    assert quote_label("docker-registry.service") == "docker-registry.service"
    assert quote_label("a b") == "'a b'"
    assert quote_label("it's") == "'it''s'"
    assert quote_label("x=y|z\n") == "x_y_z_"


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a perfdata unit"):
        Perf("x", 1, "GiB")


labels = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20
).filter(lambda s: s.strip() and s.strip() not in ("",))


@given(labels, st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_whatever_the_label_the_strict_reader_gets_it_back(label: str, value: float) -> None:
    perf = Perf(label, value, "s", parse_range("~:2"), parse_range("@1:5"), 0)
    (item,) = parse_perfdata(render([perf, Perf("other", 1)]))[:1]
    assert float(item.value) == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert (item.uom, item.warn, item.crit, item.min, item.max) == ("s", "~:2", "@1:5", 0, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a=1e5", "expected one space"),
        ("a=1GiB", "expected one space"),
        ("a b=1", "no valid perfdata item"),
        ("a=1  b=2", "no valid perfdata item"),
        ("a=1 ", "expected one space"),
        ("'a'b'=1", "no valid perfdata item"),
        ("a=1;@", "is not a range"),
        ("a=1;20:10", "start above end"),
        ("a=,5", "no valid perfdata item"),
        ("' a'=1", "starts or ends with a space"),
        ("a=1;;;x", "expected one space"),
    ],
)
def test_strict_reader_refuses_what_the_guidelines_do_not_allow(text: str, reason: str) -> None:
    with pytest.raises(PerfdataError, match=reason):
        parse_perfdata(text)


def test_strict_reader_accepts_the_guidelines_forms() -> None:
    items = parse_perfdata("'a b'=1.5ms;~:2;@1:5;0;10 c=3c 'it''s'=0;;;; d=-4.25")
    assert [(i.label, i.value, i.uom) for i in items] == [
        ("a b", 1.5, "ms"),
        ("c", 3, "c"),
        ("it's", 0, ""),
        ("d", -4.25, ""),
    ]


def test_icinga_reads_what_the_strict_reader_reads() -> None:
    items = parse_perfdata("'a b'=1.5s;2;5;0 used=75%;80;90;0;100 n=3;;@1:2 b=10B;;;0;20")
    assert_icinga_reads(items)
    assert [i["label"] for i in icinga_parse([i.raw for i in items])] == ["a b", "used", "n", "b"]
    wrong = replace(items[1], value=76)
    with pytest.raises(AssertionError):
        assert_icinga_reads([wrong])


def test_output_reader_checks_state_and_long_output() -> None:
    ok = parse_output("REGISTRY DISK OK - fine | a=1\n[OK] x\n", 0)
    assert (ok.probe, ok.state, ok.text, ok.long) == ("DISK", "OK", "fine", ["[OK] x"])
    with pytest.raises(AssertionError, match="exit code"):
        parse_output("REGISTRY DISK OK - fine\n", 2)
    with pytest.raises(AssertionError, match=re.escape("'|' in a long-output line")):
        parse_output("REGISTRY DISK OK - fine\nmore | b=2\n", 0)
    with pytest.raises(AssertionError, match="status line"):
        parse_output("DISK OK: fine\n", 0)
