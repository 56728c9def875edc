"""`systemctl show` as a data source: list arguments, no shell, a time-out.

A stalled systemd or D-Bus is the classic hang of systemd collectors, so
every call is bounded. Timestamps are read from the `...Monotonic`
properties (microseconds on CLOCK_MONOTONIC) and converted with this
process's own monotonic clock: that works on every systemd version, where
the human-readable form depends on locale and time zone.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

from exporter.probes.reading import ProbeFailed


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
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
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
