"""Read exposition text into samples the tests can assert on exactly."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample with exactly these labels, or None when absent."""
    return samples(text).get((name, frozenset(labels.items())))


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float


def series(text: str, name: str) -> list[Series]:
    """Every sample of name, whatever its labels: for asserting the label sets themselves."""
    return [
        Series(dict(s.labels), s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    ]


def names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}
