"""check_registry's command line, parsed without ever printing or exiting.

argparse would print errors to stderr and exit 2; a plugin must answer
UNKNOWN (3) on stdout, so errors become UsageError and --help/--version
become HelpText, both raised to the caller.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import NamedTuple

from registry_monitor import __version__, probe_catalog
from registry_monitor.config import DEFAULT_CONFIG_PATH
from registry_monitor.judging.verdict import Options, UsageError

PROBES = probe_catalog.NAMES
TARGETS = (*PROBES, "all", "failover", "sync-guard")
DEFAULT_TIMEOUT = 10.0
MAX_VERBOSITY = 3  # the guidelines define -v, -vv and -vvv
THRESHOLD_FLAGS = ("-w", "-c", "-W", "-K", "--warning", "--critical")
NEGATIVE = re.compile(r"-[0-9.]")

DESCRIPTION = f"""\
check_registry {__version__}: one Monitoring Plugins check of a Docker registry node,
on the same probes as registry-exporter.

PROBE is one of: {", ".join(PROBES)},
or `all`: every probe this node's role runs, reporting the worst state,
or `failover` (on the standby): could it become the active now, and what would be lost?
or `sync-guard` (run by the sync unit before rsync): refuse a sync that would erase data;
  `sync-guard --allow-once REASON` lets the next run through (docs/sync-guard.md).
"""


def threshold_lines() -> str:
    """What -w/-c mean for each probe that takes them, as its catalog entry says."""
    lines = []
    for probe in probe_catalog.PROBES:
        for number, text in enumerate(probe.threshold_help):
            lines.append(f"    {probe.name if number == 0 else '':<10}{text}\n")
    return "".join(lines)


EPILOG = f"""\
thresholds:
  Ranges as the Monitoring Plugins guidelines define them: 10 (alert outside 0..10),
  10: (below 10), ~:10 (above 10), 10:20 (outside 10..20), @10:20 (inside 10..20).
  Defaults come from the config's `thresholds`; -w/-c override them for one probe:
{threshold_lines()}  A range starting with '-' may be given as -w-5: or --warning=-5:.

time-out:
  -t bounds the whole run (default {DEFAULT_TIMEOUT:g} s): probes still running then give
  UNKNOWN. Each probe keeps its own time-out from the config (`timeouts`), cut to end
  inside -t; a registry that does not answer within it is CRITICAL.

config:
  --config FILE, default {DEFAULT_CONFIG_PATH} when it exists, else built-in defaults.

exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for --help and --version).
"""


class Args(NamedTuple):  # not a dataclass, which costs ten times as much to define
    target: str
    config: Path | None
    options: Options
    timeout: float
    verbosity: int
    json: bool
    minutes: float = 5.0
    timeout_given: bool = False  # sync-guard: else the config's sync_guard.timeout_seconds
    allow_once: str | None = None


class HelpText(Exception):
    """--help or --version: print this text and exit UNKNOWN, as check_disk does."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or f"argument parsing stopped with status {status}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds above 0 (at most 86400), got {text!r}")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1440:
        raise argparse.ArgumentTypeError(f"expected minutes above 0 (at most 1440), got {text!r}")
    return value


def _parsing_formatter(prog: str) -> argparse.HelpFormatter:
    """The formatter argparse builds for every add_argument and error, at a fixed width: the
    default one asks shutil for the terminal's (shutil loads bz2, lzma and zlib), which
    only --help needs (`help_text`)."""
    return argparse.RawDescriptionHelpFormatter(prog, width=80)


def build_parser() -> _Parser:
    p = _Parser(
        prog="check_registry",
        usage="check_registry [--config FILE] PROBE [-w RANGE] [-c RANGE] [-t SECONDS] "
        "[-v] [--json]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_parsing_formatter,
        add_help=False,
        allow_abbrev=False,
    )
    p.add_argument("target", metavar="PROBE", help="what to check (see above)")
    p.add_argument("--config", type=Path, metavar="FILE", help="the registry-monitor YAML config")
    p.add_argument("-w", "--warning", metavar="RANGE", help="warning threshold")
    p.add_argument("-c", "--critical", metavar="RANGE", help="critical threshold")
    p.add_argument("-W", "--inode-warning", metavar="RANGE", help="disk: inodes used %% warning")
    p.add_argument("-K", "--inode-critical", metavar="RANGE", help="disk: inodes used %% critical")
    p.add_argument(
        "--unit", choices=("percent", "bytes"), help="disk: judge used percent or available bytes"
    )
    p.add_argument(
        "-t",
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"bound on the whole run (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v one line per item, -vv plus config and timings, -vvv plus raw readings",
    )
    p.add_argument(
        "--minutes",
        type=_minutes,
        default=5.0,
        metavar="N",
        help="traffic: judge the access log's last N minutes (default 5)",
    )
    p.add_argument(
        "--allow-once",
        metavar="REASON",
        help="sync-guard: let the next sync run through whatever the guard finds (logged)",
    )
    p.add_argument("--json", action="store_true", help="print readings and verdicts as JSON")
    p.add_argument("-h", "--help", action="store_true", help="show this help (exit 3)")
    p.add_argument("-V", "--version", action="store_true", help="show the version (exit 3)")
    return p


def attach_negative_ranges(argv: list[str]) -> list[str]:
    """`-w -5:` as `-w-5:`: argparse would take a value starting with '-' for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in THRESHOLD_FLAGS and i + 1 < len(argv) and NEGATIVE.match(argv[i + 1]):
            joiner = "=" if token.startswith("--") else ""
            out.append(f"{token}{joiner}{argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def help_text(parser: _Parser) -> str:
    """--help, wrapped to the terminal's width (COLUMNS, else 80) as argparse does by default."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser.format_help()


def parse(argv: list[str]) -> Args:
    parser = build_parser()
    if any(a in ("-h", "--help") for a in argv):
        raise HelpText(help_text(parser))
    if any(a in ("-V", "--version") for a in argv):
        raise HelpText(f"check_registry {__version__} (registry-monitor)\n")
    ns = parser.parse_args(attach_negative_ranges(argv))
    if ns.target not in TARGETS:
        raise UsageError(f"unknown probe {ns.target!r}: choose one of {', '.join(TARGETS)}")
    options = Options(ns.warning, ns.critical, ns.inode_warning, ns.inode_critical, ns.unit)
    if ns.allow_once is not None and ns.target != "sync-guard":
        raise UsageError("--allow-once applies to sync-guard only")
    if ns.allow_once is not None and not ns.allow_once.strip():
        raise UsageError("--allow-once needs a reason: it is logged and kept in state_dir")
    if ns.target in ("all", "failover", "sync-guard") and options != Options():
        raise UsageError(
            f"-w/-c/-W/-K/--unit apply to one probe; `{ns.target}` takes its thresholds "
            "from the config"
        )
    config = ns.config
    if config is None and DEFAULT_CONFIG_PATH.exists():
        config = DEFAULT_CONFIG_PATH
    return Args(
        ns.target,
        config,
        options,
        DEFAULT_TIMEOUT if ns.timeout is None else ns.timeout,
        min(ns.verbose, MAX_VERBOSITY),
        ns.json,
        ns.minutes,
        ns.timeout is not None,
        ns.allow_once,
    )


def target_hint(argv: list[str]) -> str | None:
    """The probe named in argv, for the status line of an answer that failed to parse."""
    return next((a for a in argv if a in TARGETS), None)
