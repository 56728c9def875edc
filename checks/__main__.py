"""check_registry entry point (the probes' Monitoring Plugins face)."""

from __future__ import annotations

import time

# -t counts from here: the config, its cache and every import are inside it
STARTED = time.monotonic()

import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import warnings  # noqa: E402

from checks.plugin import run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    # stdout is the whole answer: no warnings or stray log records on stderr,
    # which Icinga would fold into the output (checks/collect.py quiets logging).
    warnings.simplefilter("ignore")
    result = run(sys.argv[1:] if argv is None else argv, STARTED if argv is None else None)
    sys.stdout.write(result.output)
    sys.stdout.flush()
    if result.stuck or any(t.daemon and t.is_alive() for t in threading.enumerate()):
        # A probe thread stuck in a system call must not keep the process alive.
        os._exit(result.exit_code)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
