"""A stand-in for `systemctl show`, the only faked part: the test machines run no systemd.

Unit states live in marshal files under $FAKE_SYSTEMD_DIR (written by the
FakeSystemd helper, with the same interpreter); units without a file answer as systemd answers an
unknown unit (LoadState=not-found). Output follows systemd's format:
Key=Value lines, one blank line between units; each timestamp twice, as
systemd shows it: the realtime form ("Sun 2026-11-29 06:38:59 UTC", whole
seconds, in the caller's TZ; "@<unix>" with --timestamp=unix) and
microseconds of CLOCK_MONOTONIC for the ...Monotonic property. The boot time
the FakeSystemd helper was given keeps every timestamp after it, as on a
real host: the helper refuses to set an earlier one.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

DEFAULTS = {
    "LoadState": "loaded",
    "ActiveState": "active",
    "SubState": "running",
    "NRestarts": "0",
    "MainPID": "0",
    "Result": "success",
    "ExecMainStatus": "0",
}

NOT_FOUND = {
    "LoadState": "not-found",
    "ActiveState": "inactive",
    "SubState": "dead",
    "NRestarts": "0",
    "MainPID": "0",
    "Result": "success",
    "ExecMainStatus": "0",
}


def to_monotonic_usec(unix: float | None) -> str:
    if not unix:
        return "0"
    return str(max(1, int((time.monotonic() - (time.time() - unix)) * 1e6)))


def to_realtime(unix: float | None, unix_form: bool = False) -> str:
    """systemd's realtime form: "%a %Y-%m-%d %H:%M:%S %Z" in the local zone ($TZ),
    or "@<seconds>" (--timestamp=unix)."""
    if not unix:
        return ""
    if unix_form:
        return f"@{int(unix)}"
    return time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(unix))


# Only the standard library's built-in parts (no json, pathlib, re): a real systemctl is a
# compiled program, and check_registry's benchmarks count this one's start.
def unit_properties(state_dir: str, unit: str, unix_form: bool = False) -> dict[str, str]:
    path = os.path.join(state_dir, f"{unit}.marshal")
    if not os.path.exists(path):
        props = dict(NOT_FOUND)
        unix: dict[str, float] = {}
    else:
        with open(path, "rb") as file:
            data = marshal.load(file)
        props = {**DEFAULTS, **{k: str(v) for k, v in data.get("properties", {}).items()}}
        unix = data.get("unix", {})
    props["Id"] = unit
    for key, when in unix.items():  # e.g. ActiveEnterTimestamp and ...Monotonic
        props.setdefault(key, to_realtime(when, unix_form))  # unless a test set it by hand
        props[f"{key}Monotonic"] = to_monotonic_usec(when)
    return props


def main(argv: list[str]) -> int:
    state_dir = os.environ.get("FAKE_SYSTEMD_DIR", "/nonexistent")
    hang = os.path.join(state_dir, "HANG")
    if os.path.exists(hang):
        with open(hang) as file:
            time.sleep(float(file.read() or "3600"))
    if os.path.exists(os.path.join(state_dir, "DOWN")):
        print("Failed to connect to bus: No such file or directory", file=sys.stderr)
        return 1
    if not argv or argv[0] != "show":
        print(f"fake systemctl: only 'show' is implemented, got {argv}", file=sys.stderr)
        return 1
    wanted: list[str] = []
    units: list[str] = []
    unix_form = False
    args = iter(argv[1:])
    for arg in args:
        if arg.startswith("--property="):
            wanted += arg.split("=", 1)[1].split(",")
        elif arg in ("-p", "--property"):
            wanted += next(args).split(",")
        elif arg.startswith("--timestamp="):
            form = arg.split("=", 1)[1]
            if form not in ("pretty", "unix"):
                print(f"fake systemctl: --timestamp={form} is not faked", file=sys.stderr)
                return 1
            unix_form = form == "unix"
        elif arg == "--":
            units += list(args)
        elif not arg.startswith("-"):
            units.append(arg)
    blocks = []
    for unit in units:
        props = unit_properties(state_dir, unit, unix_form)
        keys = wanted or sorted(props)
        blocks.append("\n".join(f"{k}={props.get(k, '')}" for k in keys if k in props or wanted))
    sys.stdout.write("\n\n".join(blocks) + ("\n" if blocks else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
