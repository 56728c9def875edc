"""Performance data exactly as the plugin guidelines define it.

    'label'=value[UOM];[warn];[crit];[min];[max]

Labels are quoted when they hold a space, a quote or a ';' (which some
graphers split on), and a quote inside is doubled; `=` and `|` (which would
end the label or the perfdata) and control characters become `_`. Values
are plain decimals (no exponents), in base units: s, B, %, c (counter) or
none. Trailing empty fields are dropped. nagiosplugin's Performance is not
used: it refuses labels with a quote instead of escaping them, and writes
floats with str(), so 1e-05.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from registry_monitor.judging.numerals import numeral
from registry_monitor.judging.ranges import Range

UNITS = ("", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c")
_UNSAFE = re.compile(r"[=|\x00-\x1f\x7f]")


def quote_label(label: str) -> str:
    label = _UNSAFE.sub("_", label).strip()
    if any(c in label for c in " ';"):
        return "'" + label.replace("'", "''") + "'"
    return label


class _Fields(NamedTuple):
    label: str
    value: float
    uom: str = ""
    warning: Range | None = None
    critical: Range | None = None
    minimum: float | None = None
    maximum: float | None = None


class Perf(_Fields):
    """One perfdata figure: label=value[uom];warning;critical;minimum;maximum.

    A NamedTuple, not a dataclass: check_registry defines it on every start, and
    generated code would be compiled each time. Checked when built (_make and
    _replace, which nothing uses, skip the check).
    """

    __slots__ = ()

    def __new__(
        cls,
        label: str,
        value: float,
        uom: str = "",
        warning: Range | None = None,
        critical: Range | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Perf:
        if uom not in UNITS:
            raise ValueError(f"{uom!r} is not a perfdata unit ({' '.join(UNITS[1:])})")
        if not label.strip():
            raise ValueError("a perfdata label needs a non-space character")
        return super().__new__(cls, label, value, uom, warning, critical, minimum, maximum)

    def __str__(self) -> str:
        fields = [
            f"{quote_label(self.label)}={numeral(self.value)}{self.uom}",
            "" if self.warning is None else str(self.warning),
            "" if self.critical is None else str(self.critical),
            "" if self.minimum is None else numeral(self.minimum),
            "" if self.maximum is None else numeral(self.maximum),
        ]
        while fields[-1] == "":
            fields.pop()
        return ";".join(fields)


def render(items: list[Perf] | tuple[Perf, ...]) -> str:
    return " ".join(str(item) for item in items)
