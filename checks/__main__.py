"""check_registry entry point (the probes' Icinga face)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("REGISTRY UNKNOWN - check_registry is not implemented yet")
    return 3


if __name__ == "__main__":
    sys.exit(main())
