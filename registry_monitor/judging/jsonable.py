"""Readings as plain JSON values for /api/status and check_registry --json.

A record (a dataclass, or a NamedTuple: cheaper to define, for the types a
one-shot check loads) becomes an object of its fields in their order. A
value with a `json_fields()` method gives its own fields (to leave out
internal data too large to show). dataclasses is imported only for a
dataclass: `check_registry --json` on a local probe has none.
"""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any


def jsonable(value: Any) -> Any:
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        import dataclasses  # is_dataclass(value), tested without importing the module

        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.metadata.get("json", True)  # False: internal data, too large to show
        }
    if hasattr(value, "json_fields") and not isinstance(value, type):
        return jsonable(value.json_fields())
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple
        return jsonable(value._asdict())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
