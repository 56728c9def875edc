"""Push a small image to the running demo's active registry: `python -m demo.push NAME:TAG`.

Each push has a new layer, so pushing the same tag again moves it. The
standby lacks it until the next sync: watch registry_monitor_standby_lag_seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from testbed.images import Pusher

STATE = Path("demo-run") / "demo.json"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or ":" not in args[0]:
        print("usage: python -m demo.push NAME:TAG   (e.g. toolforge-demo:v1)", file=sys.stderr)
        return 2
    try:
        registry = json.loads(STATE.read_text())["active_registry"]
    except (OSError, ValueError, KeyError):
        print(f"no running demo ({STATE} missing): start it with `make demo`", file=sys.stderr)
        return 1
    name, _, tag = args[0].rpartition(":")
    layer = f"demo layer of {name}:{tag} pushed at {time.time()}".encode()
    pushed = Pusher(registry).push_image(name, tag, layers=[layer])
    print(f"pushed {name}:{tag} = {pushed.digest} to {registry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
