"""One verdict module per probe: its reading and thresholds in, a Verdict out.

Each module is named after the probe it judges (registry_monitor/probe_catalog.py)
and provides two functions:

    thresholds(config, options) -> Limits   the config's levels, overridden by
                                            -w/-c as that probe reads them
                                            (raises UsageError)
    judge(reading, limits) -> Verdict       never raises for any reading that
                                            has a value (judging/judge.py
                                            answers for one without)

Modules are imported on demand, like the probes themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, cast

from registry_monitor.config import Config, Levels
from registry_monitor.judging.ranges import Range, RangeError, Threshold, ceiling, parse_range
from registry_monitor.judging.verdict import Options, UsageError, Verdict, unknown
from registry_monitor.probe_catalog import spec
from registry_monitor.probes.reading import Measured, Reading

Limits = dict[str, Threshold]


class VerdictModule(Protocol):
    def thresholds(self, config: Config, options: Options) -> Limits: ...

    def judge(self, reading: Measured[Any], limits: Limits) -> Verdict: ...


def load(probe: str) -> VerdictModule:
    """registry_monitor.judging.verdicts.<probe>, for a probe of the catalog."""
    return cast(VerdictModule, importlib.import_module(spec(probe).verdict_module))


def failed(reading: Reading[Any]) -> Verdict:
    """A probe that could not measure: UNKNOWN, with its reason."""
    return unknown(reading.probe, reading.error or "the probe returned no reading")


def option_range(flag: str, text: str, parse: Callable[[str], Range]) -> Range:
    try:
        return parse(text)
    except RangeError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def levels(
    warning: str | None,
    critical: str | None,
    config_levels: Levels | None,
    parse: Callable[[str], Range],
    from_config: Callable[[float], Range],
    flags: tuple[str, str] = ("-w", "-c"),
) -> Threshold:
    """Each level from its option when given, else from the config (if it has one)."""
    return Threshold(
        option_range(flags[0], warning, parse)
        if warning is not None
        else (from_config(config_levels.warning) if config_levels else None),
        option_range(flags[1], critical, parse)
        if critical is not None
        else (from_config(config_levels.critical) if config_levels else None),
    )


def refuse(options: Options, probe: str, why: str, *, allowed: tuple[str, ...] = ()) -> None:
    """UsageError for any threshold option this probe does not read."""
    given = {
        "-w": options.warning,
        "-c": options.critical,
        "-W": options.inode_warning,
        "-K": options.inode_critical,
        "--unit": options.unit,
    }
    extra = [flag for flag, value in given.items() if value is not None and flag not in allowed]
    if extra:
        raise UsageError(f"{probe} does not take {'/'.join(extra)}: {why}")


def ceiling_levels(
    options: Options, probe: str, why: str, config_levels: Levels | None
) -> Threshold:
    """-w/-c of a figure that must stay low (a bare number alerts above it), else the config's."""
    refuse(options, probe, why, allowed=("-w", "-c"))
    return levels(options.warning, options.critical, config_levels, parse_range, ceiling)
