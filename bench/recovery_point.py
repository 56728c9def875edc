"""How soon a push on the active shows in the standby's recovery point, default intervals.

    python -m bench.recovery_point [--pushes N]

The real pair of the tests (testbed/pair.py: two registries behind nginx, the
real sync, both exporters) with the default intervals. Each push goes to the
active's registry; the time until the standby's
`registry_monitor_standby_missing_tags` counts it is what a failover answer
lags behind the truth. Goal: within 30 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import trustme

from testbed.images import Pusher
from testbed.pair import HealthyPair
from tests.support.metrics import value

GOAL = 30.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes", type=int, default=5)
    args = parser.parse_args(argv)
    delays = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        HealthyPair(Path(tmp), trustme.CA()) as pair,
    ):
        assert pair.standby.exporter is not None
        exporter = pair.standby.exporter
        pusher = Pusher(pair.active.registry.url)
        for i in range(args.pushes):
            before = value(exporter.metrics_text(), "registry_monitor_standby_missing_tags") or 0
            pushed = time.time()
            pusher.push_image("bench/recovery-point", f"v{i}")
            while (
                value(exporter.metrics_text(), "registry_monitor_standby_missing_tags") or 0
            ) <= (before):
                if time.time() - pushed > 300:
                    print(f"push {i}: not seen within 300 s")
                    return 1
                time.sleep(0.2)  # polling period of a measurement
            delays.append(time.time() - pushed)
            print(f"push {i}: seen by the standby after {delays[-1]:.1f} s")
            time.sleep(i * 3.7 % 11)  # pushes at different points of the probes' cycles
    worst = max(delays)
    verdict = "met" if worst <= GOAL else "MISSED"
    median = sorted(delays)[len(delays) // 2]
    print(
        f"recovery_point_delay_seconds max {worst:.1f} median {median:.1f}"
        f"  (goal <= {GOAL:g}: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
