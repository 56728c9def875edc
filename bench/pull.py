"""The pull probe's cost: a whole image pulled through real nginx, every byte hashed.

    python -m bench.pull [--layer-mib 64] [--layers 4] [--runs 3]

Pushes one image of LAYERS layers of LAYER_MIB random MiB to a real registry
behind real nginx (TLS), then runs the pull probe RUNS times with the
default byte cap and prints bytes, seconds, MiB/s, the probe's CPU seconds
and the process's peak RSS. The body streams through a 256 KiB buffer into
sha256, so memory should not grow with the layer size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil
import trustme

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.pull import PullProbe
from registry_monitor.probes.reading import run_probe
from testbed.certs import issue, write_ca
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry

NAME = "registry.bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer-mib", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        root = Path(tmp)
        # nginx's workers (user nobody under root) buffer large bodies in proxy_temp_path:
        # they must be able to reach it, or nginx cuts each large blob short.
        root.chmod(0o755)
        ca = trustme.CA()
        cert = issue(ca, root / "certs", NAME)
        registry = Registry(root / "registry").start()
        nginx = None
        try:
            nginx = Nginx(root / "nginx", registry.url, NAME, cert.cert, cert.key).start()
            layers = [os.urandom(args.layer_mib * 2**20) for _ in range(args.layers)]
            Pusher(registry.url).push_image("bench", "latest", layers=layers)
            del layers
            me = psutil.Process()
            baseline = me.memory_info().rss
            peak = [baseline]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.01):
                    peak[0] = max(peak[0], me.memory_info().rss)

            threading.Thread(target=sample, daemon=True).start()
            config = Config(
                public_url=f"https://{NAME}",
                public_connect=nginx.connect,
                ca_file=write_ca(ca, root / "ca.pem"),
                cert_file=None,
                canary_images=("bench:latest",),
            )
            probe = PullProbe(config)
            print(f"image: {args.layers} layers of {args.layer_mib} MiB, through nginx (TLS)")
            print(f"cap: {config.pull_max_bytes_per_run / 2**20:.0f} MiB per run")
            for run in range(1, args.runs + 1):
                cpu = time.process_time()
                reading = run_probe(probe, Deadline(600))
                cpu = time.process_time() - cpu
                assert reading.value is not None, reading.error
                (image,) = reading.value.images
                rate = image.bytes / 2**20 / image.duration_seconds
                state = "up" if image.up else ("cut short" if image.cut_short else image.error)
                print(
                    f"run {run}: {image.bytes / 2**20:.1f} MiB in {image.duration_seconds:.2f} s "
                    f"({rate:.0f} MiB/s), probe CPU {cpu:.2f} s, {state}"
                )
            done.set()
            grown = (peak[0] - baseline) / 2**20
            before = baseline / 2**20
            print(f"RSS while pulling: at most {grown:.1f} MiB above the {before:.0f} MiB before")
        finally:
            if nginx is not None:
                nginx.stop()
            registry.stop()


if __name__ == "__main__":
    main()
