"""JSON from outside (a registry, the peer exporter), decoded within a memory bound.

A JSON document costs far more decoded than as text: `{},` is 3 bytes and a
72-byte dict, so 16.5 MB of them took an exporter past 400 MB. Two bounds
hold before anything is decoded: its size, and the number of values it can
hold, counted from above as commas plus opening brackets (each dict, list,
string or number decoded costs at most about 100 bytes beyond its text; a
comma or bracket inside a string is counted too, which only errs towards
refusing). Nesting deep enough to reach Python's recursion limit is refused
as well, never raised past the caller.
"""

from __future__ import annotations

import json


class JsonRefused(ValueError):
    """Not decoded: too large, too many values, nested too deeply, or not JSON."""


def value_bound(data: bytes | bytearray) -> int:
    """At least the number of JSON values in `data`, counted without decoding."""
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


def loads(data: bytes | bytearray, *, max_bytes: int, max_values: int) -> object:
    """The decoded document; JsonRefused (with a short reason) if it is not taken."""
    if len(data) > max_bytes:
        raise JsonRefused(f"{len(data)} bytes, more than the {max_bytes} byte cap")
    if value_bound(data) > max_values:
        raise JsonRefused(f"more than {max_values} JSON values")
    try:
        return json.loads(data)
    except RecursionError:
        raise JsonRefused("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonRefused("not JSON") from None
