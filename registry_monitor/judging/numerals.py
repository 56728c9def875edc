"""Numbers as the plugin interface writes them: plain decimals, never exponents.

Python's str() turns 1e-05 or 1e+16 into scientific notation, which the
guidelines' NUMERAL (`[-]digits[.digits]`) does not allow and some graphing
backends misread. The shortest repr is kept, only written out in full (by
moving its decimal point: decimal.Decimal would do it too, at a cost of its
import on every check).
"""

from __future__ import annotations

import math


def _written_out(text: str) -> str:
    """A float's repr without its exponent: '1.5e-05' -> '0.000015', '1e+16' -> '1' + 16 zeros."""
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    sign = "-" if mantissa.startswith("-") else ""
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def numeral(value: float) -> str:
    """value as `-?\\d+(\\.\\d+)?`, exactly as Python's repr would round-trip it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as a plugin numeral")
    text = _written_out(repr(value))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
