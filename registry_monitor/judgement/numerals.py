"""Numbers as the plugin interface writes them: plain decimals, never exponents.

Python's str() turns 1e-05 or 1e+16 into scientific notation, which the
guidelines' NUMERAL (`[-]digits[.digits]`) does not allow and some graphing
backends misread. The shortest repr is kept, only written out in full.
"""

from __future__ import annotations

import math
from decimal import Decimal


def numeral(value: float) -> str:
    """value as `-?\\d+(\\.\\d+)?`, exactly as Python's repr would round-trip it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as a plugin numeral")
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
