"""Icinga 2's own perfdata parser (the DSL's parse_performance_data), run on plugin output."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.support.perfdata import PerfItem

ICINGA2 = shutil.which("icinga2") or "/usr/sbin/icinga2"
UNITS = {"": "", "%": "percent", "s": "seconds", "B": "bytes", "c": ""}


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def icinga_parse(raw_items: list[str]) -> list[dict[str, Any]]:
    """parse_performance_data on each item, in one `icinga2 console` run."""
    if not raw_items:
        return []
    expression = "[" + ", ".join(f"parse_performance_data({_literal(i)})" for i in raw_items) + "]"
    done = subprocess.run(
        [ICINGA2, "console", "--eval", expression],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"Icinga 2 refused the perfdata: {done.stdout}{done.stderr}"
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


def assert_icinga_reads(items: list[PerfItem]) -> None:
    """Icinga 2 reads every item with the value, unit, min and max the strict reader saw."""
    parsed = icinga_parse([i.raw for i in items])
    for ours, theirs in zip(items, parsed, strict=True):
        assert theirs["value"] == ours.value, (ours, theirs)
        assert theirs["unit"] == UNITS[ours.uom], (ours, theirs)
        assert (theirs["min"], theirs["max"]) == (ours.min, ours.max), (ours, theirs)
        for level in ("warn", "crit"):
            text = getattr(ours, level)
            if text.replace(".", "").isdigit():  # a plain number: Icinga keeps it
                assert theirs[level] == float(text), (ours, theirs)
