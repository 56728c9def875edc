"""`systemctl show` as a data source: list arguments, no shell, a time-out.

A stalled systemd or D-Bus is the classic hang of systemd collectors, so
every call is bounded. systemctl runs with TZ=UTC and LC_ALL=C, so its
realtime timestamps have one form ("Sun 2026-11-29 06:38:59 UTC"): read as
they are, they give the same value on every run (`timestamp()`; the services
probe's start time). The `...Monotonic` properties (microseconds on
CLOCK_MONOTONIC) need this process's clocks to become unix time and so move
by up to a second between runs: `timestamp()` falls back to them where the
realtime form is missing, and the sync probe reads them for their sub-second
resolution, keeping what it saw in its state file with a 1 s tolerance.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from registry_monitor.base import ProbeFailed


class SystemctlError(ProbeFailed):
    """systemctl is missing, hung or failed; the message says which."""


def show(
    units: Sequence[str],
    properties: Sequence[str],
    *,
    systemctl: str = "systemctl",
    timeout: float = 5.0,
) -> list[dict[str, str]]:
    """Properties of each unit, in the order asked.

    A unit that does not exist is not an error: systemd answers it with
    `LoadState=not-found`, and so does this function.
    """
    if not units:
        return []
    props = ",".join(dict.fromkeys(["Id", *properties]))
    argv = [systemctl, "show", f"--property={props}", "--", *units]
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
    """Split `systemctl show` output into one mapping per unit (blank-line separated)."""
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
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


REALTIME_FORMAT = "%a %Y-%m-%d %H:%M:%S UTC"


def realtime_to_unix(value: str | None) -> float | None:
    """A realtime timestamp property (TZ=UTC, LC_ALL=C) as unix time, whole seconds;
    None when unset (empty, "n/a") or in another form."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value.strip(), REALTIME_FORMAT)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC).timestamp()


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
