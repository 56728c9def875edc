"""Copies of the real alert rule files with short `for:`, so alerts fire within a test."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from alerts.rule_files import dump, load, rule_files, rules

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration such as 5m, 1h30m or 1d."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    return f"{int(seconds)}s"


def short_for_copies(
    dest: Path, longest: float, sources: Sequence[Path] | None = None
) -> list[Path]:
    """The rule files rewritten into dest with every `for:` cut to at most `longest` seconds.

    Expressions, labels and annotations stay as they are: the copies are the
    real rules, only quicker to fire.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources if sources is not None else rule_files():
        doc = load(source)
        for rule in rules(doc):
            if "for" in rule and parse_duration(str(rule["for"])) > longest:
                rule["for"] = format_duration(longest)
        target = dest / source.name
        dump(doc, target, f"# {source.name} with every for: cut to {format_duration(longest)}\n")
        written.append(target)
    return written
