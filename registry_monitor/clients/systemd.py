"""`systemctl show` as a data source: list arguments, no shell, a time-out.

A stalled systemd or D-Bus is the classic hang of systemd collectors, so
every call is bounded. systemctl runs with TZ=UTC and LC_ALL=C, so its
realtime timestamps have one form ("Sun 2026-11-29 06:38:59 UTC"): read as
they are, they give the same value on every run (`timestamp()`).
`show(..., unix_timestamps=True)` asks for them as unix seconds
(`--timestamp=unix`, "@1764577139"), which `realtime_to_unix` reads too: the
form the services and sync probes ask for, free of zones and locales, and
read without the datetime module. The `...Monotonic`
properties (microseconds on CLOCK_MONOTONIC) need this process's clocks to
become unix time and so move by up to a second between runs, and cannot name
a time before boot: `timestamp()` falls back to them only where the realtime
form is missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence

from registry_monitor.base import ProbeFailed


class SystemctlError(ProbeFailed):
    """systemctl is missing, hung or failed; the message says which."""


def show(
    units: Sequence[str],
    properties: Sequence[str],
    *,
    systemctl: str = "systemctl",
    timeout: float = 5.0,
    unix_timestamps: bool = False,
) -> list[dict[str, str]]:
    """Properties of each unit, in the order asked; realtime timestamps as "@<unix>"
    with `unix_timestamps` (systemd 247 and later).

    A unit that does not exist is not an error: systemd answers it with
    `LoadState=not-found`, and so does this function.
    """
    if not units:
        return []
    props = ",".join(dict.fromkeys(["Id", *properties]))
    argv = [systemctl, "show", f"--property={props}"]
    if unix_timestamps:
        argv.append("--timestamp=unix")
    argv += ["--", *units]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, env=_systemctl_env()
        )
    except FileNotFoundError:
        raise SystemctlError(f"{systemctl} not found (no systemd on this host?)") from None
    except subprocess.TimeoutExpired:
        raise SystemctlError(
            f"systemctl show did not answer within {timeout:.3g}s (systemd or D-Bus stalled?)"
        ) from None
    except OSError as exc:
        raise SystemctlError(f"cannot run {systemctl}: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise SystemctlError(
            f"systemctl show exited {done.returncode}: {detail[0] if detail else 'no message'}"
        )
    blocks = parse_show(done.stdout.decode(errors="replace"))
    if len(blocks) != len(units):
        raise SystemctlError(
            f"systemctl show answered {len(blocks)} units for the {len(units)} asked"
        )
    return blocks


def _systemctl_env() -> dict[str, str]:
    """systemd formats realtime timestamps in the caller's zone and locale: pin both."""
    return {**os.environ, "TZ": "UTC", "LC_ALL": "C"}


def parse_show(text: str) -> list[dict[str, str]]:
    """Split `systemctl show` output into one mapping per unit (blank-line separated).

    A property shown more than once (a timer's `TimersMonotonic`, one line per
    setting) keeps every value, one per line."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = f"{current[key]}\n{value}" if key in current else value
    if current:
        blocks.append(current)
    return blocks


# systemd's realtime form under TZ=UTC, LC_ALL=C ("Sun 2026-11-29 06:38:59 UTC"), read by a
# pattern rather than strptime, whose first call imports _strptime and calendar and builds
# its locale tables: more than the rest of a services check's own work.
REALTIME = (
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([0-9]{4})-([0-9]{2})-([0-9]{2}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) UTC"
)


def realtime_to_unix(value: str | None) -> float | None:
    """A realtime timestamp property (TZ=UTC, LC_ALL=C, or "@<unix>" from
    --timestamp=unix) as unix time, whole seconds; None when unset (empty, "n/a", "@0")
    or in another form."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("@"):
        seconds = value[1:]
        return float(seconds) if seconds.isdigit() and int(seconds) > 0 else None
    match = re.fullmatch(REALTIME, value)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    from datetime import UTC, datetime  # here: the probes ask for "@<unix>" (2 ms a start)

    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:  # a day or time that does not exist
        return None


def timestamp(props: Mapping[str, str], name: str) -> float | None:
    """Unix time of the timestamp property `name` (e.g. ActiveEnterTimestamp): the stable
    realtime form, else `<name>Monotonic` converted. Ask systemctl for both."""
    realtime = realtime_to_unix(props.get(name))
    if realtime is not None:
        return realtime
    return monotonic_usec_to_unix(props.get(f"{name}Monotonic"))


def monotonic_usec_to_unix(value: str | None) -> float | None:
    """A `...Monotonic` property as unix time; None when unset (0) or unparsable."""
    if not value or not value.isdigit() or int(value) == 0:
        return None
    age = time.monotonic() - int(value) / 1e6
    return time.time() - age


def int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


_SPAN_UNITS = {
    "us": 1e-6,
    "usec": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "M": 2629800.0,
    "y": 31557600.0,
}
# The timer patterns are strings, compiled by re on first use (and kept in its cache): only
# the sync probe reads timers, and compiling them all costs a services check a millisecond.
_SPAN_PART = r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)"
# the repeating timer settings: each is a period between two runs
_REPEATING = r"\b(?:OnUnitActiveUSec|OnUnitInactiveUSec)=([^;}]+)"
_CALENDAR = r"\bOnCalendar=([^;}]+)"
# systemd's normalised forms of the usual repeating calendars: (form, seconds a step);
# a group in the form is the number of steps ("*:00/10:00": every 10 minutes)
_CALENDAR_STEP = (
    (r"\*-\*-\* \*:\*:\d\d", 60.0),
    (r"\*-\*-\* \*:\d\d/(\d+):\d\d", 60.0),
    (r"\*-\*-\* \*:\d\d:\d\d", 3600.0),
    (r"\*-\*-\* \d\d/(\d+):\d\d:\d\d", 3600.0),
    (r"\*-\*-\* \d\d:\d\d:\d\d", 86400.0),
)


def timespan_seconds(text: str) -> float | None:
    """systemd's time span ("10min", "1h 30min", "500ms") in seconds; None if not one."""
    text = text.strip()
    parts = re.findall(_SPAN_PART, text)
    if not parts or re.sub(_SPAN_PART, "", text).strip():
        return None
    total = 0.0
    for number, unit in parts:
        if unit not in _SPAN_UNITS:
            return None
        total += float(number) * _SPAN_UNITS[unit]
    return total


def timer_period(props: Mapping[str, str]) -> float | None:
    """Seconds between two runs of a timer, from its `TimersMonotonic` (OnUnitActiveSec=,
    OnUnitInactiveSec=) and `TimersCalendar` (the usual every-N-minutes/hours forms);
    the shortest when it has several, None when it has no repeating one read here."""
    periods = [
        span
        for value in re.findall(_REPEATING, props.get("TimersMonotonic", ""))
        if (span := timespan_seconds(value)) is not None and span > 0
    ]
    for spec in re.findall(_CALENDAR, props.get("TimersCalendar", "")):
        for pattern, step in _CALENDAR_STEP:
            match = re.fullmatch(pattern, spec.strip())
            if match:
                periods.append(step * (int(match[1]) if match.groups() else 1))
                break
    return min(periods) if periods else None
