"""check_registry entry point (the probes' Monitoring Plugins face)."""

from __future__ import annotations

import os
import sys
import threading
import warnings

from checks.plugin import run


def main(argv: list[str] | None = None) -> int:
    # stdout is the whole answer: no warnings or stray log records on stderr,
    # which Icinga would fold into the output (checks/collect.py quiets logging).
    warnings.simplefilter("ignore")
    result = run(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(result.output)
    sys.stdout.flush()
    if result.stuck or any(t.daemon and t.is_alive() for t in threading.enumerate()):
        # A probe thread stuck in a system call must not keep the process alive.
        os._exit(result.exit_code)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
