"""Validating a parsed config document against the types of config/__init__.py, with msgspec.

Validation is key by key at the top level (so that every wrong key is named
at once): an unknown key or a wrong type stops start-up with the file, the
key path, what was expected and what was given. msgspec rather than pydantic:
it imports in a few milliseconds where pydantic takes about 100. This module
is loaded only by a run that validates; check_registry mostly reuses the
Config it validated before (checks/config_cache.py).
"""

from __future__ import annotations

import functools
import re
import types
import typing
from pathlib import Path
from typing import Any

import msgspec

from registry_monitor.config import Config, ConfigError
from registry_monitor.config.file_bounds import ConfigFileError
from registry_monitor.config.rules import short, shown

MAX_PROBLEMS_SHOWN = 10
_FIELDS: dict[str, Any] = typing.get_type_hints(Config, include_extras=True)
_GOT_TYPE = re.compile(r", got `[^`]*`$")  # said better by the value itself
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _is_record(kind: Any) -> typing.TypeGuard[type]:
    """Whether a type is one of the config's records (a NamedTuple)."""
    return isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")


def _record_in(kind: Any) -> type | None:
    """The record type a field's type is, or is one of (`AccessLog | None`), if any."""
    for k in (kind, *typing.get_args(kind)):
        if _is_record(k):
            return k
    return None


def _field_type(key: str, where: str) -> Any:
    """The type of the key that msgspec's `$.a.b` path points to, through nested types."""
    kind = _FIELDS[key]
    for name, _ in _PATH_PART.findall(where):
        record = _record_in(kind)
        if not name or record is None:
            break
        kind = typing.get_type_hints(record, include_extras=True).get(name, kind)
    return kind


def _unknown_key(kind: Any, value: object, path: str) -> str | None:
    """The first key of a nested mapping its record type does not have, as a problem line.

    Named here rather than by msgspec, in the same words as an unknown top-level key.
    """
    record = _record_in(kind)
    if record is None or not isinstance(value, dict):
        return None
    hints = typing.get_type_hints(record, include_extras=True)
    for name, inner in value.items():
        if name not in hints:
            return f"{path}.{name}: unknown key (not one this program reads; check its spelling)"
        found = _unknown_key(hints[name], inner, f"{path}.{name}")
        if found is not None:
            return found
    return None


# msgspec reads a NamedTuple from an array, and a config's nested records are mappings:
# each is validated as a Struct of the same fields, types and defaults, then built.
_RECORDS: dict[type, type] = {}  # the Struct -> the record it stands for


@functools.cache
def _struct_of(record: type) -> type:
    hints = typing.get_type_hints(record, include_extras=True)
    defaults: dict[str, Any] = record._field_defaults  # type: ignore[attr-defined]
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (name, as_validated(hints[name]), defaults[name])
        if name in defaults
        else (name, as_validated(hints[name]))
        for name in record._fields  # type: ignore[attr-defined]
    ]
    struct: type = msgspec.defstruct(record.__name__, fields, kw_only=True)
    _RECORDS[struct] = record
    return struct


def as_validated(kind: Any) -> Any:
    """The type msgspec validates a field against: records as their Structs."""
    if _is_record(kind):
        return _struct_of(kind)
    if isinstance(kind, types.UnionType) and _record_in(kind) is not None:
        return functools.reduce(lambda a, b: a | b, map(as_validated, typing.get_args(kind)))
    return kind


def _built(value: object) -> object:
    """A validated value with its Structs built into the records they stand for."""
    record = _RECORDS.get(type(value))
    if record is None:
        return value
    fields = record._fields  # type: ignore[attr-defined]
    return record(**{name: _built(getattr(value, name)) for name in fields})


def _given(value: object, path: str) -> object:
    """The part of a key's value that msgspec's `$.a[0]` path points to, if found."""
    for name, index in _PATH_PART.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def _describe(key: str, value: object, error: msgspec.ValidationError) -> str:
    message, _, where = str(error).partition(" - at `$")
    where = where.rstrip("`")
    path = key + where
    if message.startswith("Object missing required field"):
        return f"{path}.{message.split('`')[1]}: required key missing"
    if message.startswith("Invalid enum value"):
        allowed = ", ".join(repr(a) for a in typing.get_args(_field_type(key, where)))
        message = f"expected one of {allowed}"
    given = _given(value, where)
    if given is None:
        return f"{path}: {message}"
    return f"{path}: {_GOT_TYPE.sub('', message)}{shown(path, given)}"


def _dec_hook(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise TypeError("Expected a path (a string)" if kind is Path else f"Expected {kind}")


def parse_config(data: object, source: str = "<config>") -> Config:
    """Validate an already-parsed YAML document."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key not in _FIELDS:
            problems.append(f"{key}: unknown key (not one this program reads; check its spelling)")
            continue
        unknown = _unknown_key(_FIELDS[key], value, str(key))
        if unknown is not None:
            problems.append(unknown)
            continue
        try:
            converted = msgspec.convert(value, as_validated(_FIELDS[key]), dec_hook=_dec_hook)
            values[key] = _built(converted)
        except msgspec.ValidationError as exc:
            problems.append(_describe(key, value, exc))
    if not problems:
        try:
            return Config(**values)
        except ValueError as exc:
            problems.append(str(exc))
    if len(problems) > MAX_PROBLEMS_SHOWN:
        hidden = len(problems) - MAX_PROBLEMS_SHOWN
        problems[MAX_PROBLEMS_SHOWN:] = [f"... and {hidden} more"]
    raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))


def parse_document(data: bytes, path: Path) -> object:
    """The YAML document in a config file's bytes, within bounds, or ConfigError."""
    import yaml  # here, not above: a run that only validates needs no YAML

    from registry_monitor.config.yaml_source import parse_yaml

    try:
        return parse_yaml(data)
    except ConfigFileError as exc:
        raise ConfigError(f"{path}: cannot use config file: {exc}") from None
    except yaml.MarkedYAMLError as exc:  # its str() quotes the offending line, of any length
        what = ": ".join(str(p) for p in (exc.context, exc.problem) if p) or type(exc).__name__
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise ConfigError(f"{path}: not valid YAML: {short(what)}{where}") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a 5,000-digit number
        raise ConfigError(f"{path}: not valid YAML: {short(exc)}") from None


def parse_file_document(document: object, path: Path) -> Config:
    """Validate a config file's parsed document, naming the file."""
    try:
        return parse_config(document, str(path))
    except RecursionError:  # msgspec on a value nested past Python's limit
        raise ConfigError(f"{path}: cannot use config file: nested too deeply") from None
