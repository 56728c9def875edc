"""Libraries' own words for a bad input, asked of them in the test (see tls_reasons.py).

Our messages carry a library's reason after words of our own ("not valid
YAML: ...", "state file ... is not usable (...)"); the wording is the
library's and changes between its releases, so a test gets it from the
library, for the same input, and asserts that it is carried through.
"""

from __future__ import annotations

import json
import re
import typing
import zlib

import msgspec
import yaml

from registry_monitor.config import Config
from registry_monitor.config.validation import as_validated


def msgspec_reason(key: str, value: object) -> str:
    """msgspec's reason for refusing `value` as the config key `key`, as the config's
    error shows it: without where (the error names the key) and without its ", got
    `type`" (the error shows the value instead)."""
    kind = as_validated(typing.get_type_hints(Config, include_extras=True)[key])
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        message = str(exc).partition(" - at `$")[0]
        return re.sub(r", got `[^`]*`$", "", message)
    raise AssertionError(f"msgspec accepts {value!r} as {key}")


def yaml_reason(text: str) -> str:
    """PyYAML's reason for refusing text: its context, else its problem."""
    try:
        yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        return str(exc.context or exc.problem)
    raise AssertionError(f"PyYAML reads {text!r}")


def value_error(call: typing.Callable[[], object]) -> str:
    """The ValueError's message (json's, int()'s, ...) that call raises."""
    try:
        call()
    except ValueError as exc:
        assert str(exc), exc
        return str(exc)
    raise AssertionError(f"{call} raised nothing")


def json_reason(text: str) -> str:
    return value_error(lambda: json.loads(text))


def gzip_reason(data: bytes) -> str:
    """zlib's reason for refusing data as a gzip stream."""
    try:
        zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    except zlib.error as exc:
        return str(exc)
    raise AssertionError(f"zlib inflates {data!r}")
