"""A strict reader of plugin output, written from the Monitoring Plugins guidelines.

    TEXT | 'label'=value[UOM];[warn];[crit];[min];[max] ...
    LONG TEXT (further lines, never a '|')

- label: quoted with single quotes when it holds a space; a quote inside a
  quoted label is doubled; never '=' (it ends the label); unquoted labels
  hold no space or quote, nor (stricter than the guidelines) a ';'
- value, min, max: [-]digits[.digits], no exponents
- UOM: none, s ms us, %, B KB MB TB, c
- warn, crit: ranges [@][start:][end] with ~ as minus infinity, start <= end
- items separated by one space; trailing empty fields may be dropped
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

NUMERAL = r"-?[0-9]+(?:\.[0-9]+)?"
RANGE = rf"@?(?:(?:~|{NUMERAL}):)?(?:{NUMERAL})?"
UOM = r"s|ms|us|%|B|KB|MB|TB|c"
LABEL = r"'(?:[^'=]|'')+'|[^' =|;]+"
ITEM = re.compile(
    rf"(?P<label>{LABEL})=(?P<value>{NUMERAL})(?P<uom>{UOM})?"
    rf"(?:;(?P<warn>{RANGE})(?:;(?P<crit>{RANGE})(?:;(?P<min>{NUMERAL})?(?:;(?P<max>{NUMERAL})?)?)?)?)?"
)
STATUS = re.compile(
    r"REGISTRY(?: (?P<probe>[A-Z][A-Z-]*))? (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>\S.*)"
)
EXIT_CODES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


class PerfdataError(ValueError):
    pass


@dataclass(frozen=True)
class PerfItem:
    label: str  # unquoted, '' undone
    value: float
    uom: str
    warn: str
    crit: str
    min: float | None
    max: float | None
    raw: str  # the item as written


@dataclass(frozen=True)
class PluginOutput:
    probe: str | None
    state: str
    text: str
    perfdata: dict[str, PerfItem]
    long: list[str]


def _check_range(text: str, where: str) -> None:
    if not text:
        return
    body = text.removeprefix("@")
    if not re.search(r"[0-9~]", body) or body in ("~", ":"):
        raise PerfdataError(f"{where}: {text!r} is not a range")
    start, sep, end = body.rpartition(":") if ":" in body else ("0", "", body)
    lo = -math.inf if start == "~" else float(start or 0)
    hi = math.inf if sep and not end else float(end)
    if lo > hi:
        raise PerfdataError(f"{where}: range {text!r} has start above end")


def parse_perfdata(text: str) -> list[PerfItem]:
    items: list[PerfItem] = []
    pos = 0
    while True:
        m = ITEM.match(text, pos)
        if m is None:
            raise PerfdataError(f"no valid perfdata item at {pos}: {text[pos : pos + 60]!r}")
        label = m["label"]
        if label.startswith("'"):
            label = label[1:-1].replace("''", "'")
            if label != label.strip():
                raise PerfdataError(f"quoted label {m['label']} starts or ends with a space")
        for field in ("warn", "crit"):
            _check_range(m[field] or "", f"{label} {field}")
        items.append(
            PerfItem(
                label,
                float(m["value"]),
                m["uom"] or "",
                m["warn"] or "",
                m["crit"] or "",
                None if m["min"] is None else float(m["min"]),
                None if m["max"] is None else float(m["max"]),
                m.group(0),
            )
        )
        pos = m.end()
        if pos == len(text):
            return items
        if text[pos] != " " or pos + 1 == len(text):
            raise PerfdataError(
                f"expected one space between items at {pos}: {text[pos : pos + 40]!r}"
            )
        pos += 1


def parse_output(stdout: str, exit_code: int) -> PluginOutput:
    """The plugin's answer, held to the format; raises PerfdataError/AssertionError if off."""
    assert stdout.endswith("\n"), "output must end with a newline"
    first, *rest = stdout[:-1].split("\n")
    text, bar, perf = first.partition("|")
    m = STATUS.fullmatch(text.rstrip(" ") if bar else text)
    assert m is not None, f"status line not in the plugin's format: {first!r}"
    assert EXIT_CODES[m["state"]] == exit_code, f"state {m['state']} but exit code {exit_code}"
    if bar:
        assert text.endswith(" ") and not text.endswith("  "), "one space before '|'"
        assert perf.startswith(" ") and not perf.startswith("  "), "one space after '|'"
    items = parse_perfdata(perf[1:]) if bar else []
    labels = [i.label for i in items]
    assert len(labels) == len(set(labels)), f"duplicate perfdata labels: {labels}"
    for line in rest:
        assert "|" not in line, f"'|' in a long-output line: {line!r}"
        assert line.strip(), "empty long-output line"
    return PluginOutput(m["probe"], m["state"], m["text"], {i.label: i for i in items}, rest)
