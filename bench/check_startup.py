"""How fast check_registry answers, next to the interpreter and monitoring-plugins.

Times, over repeated runs on this host:
  - the interpreter alone, importing psutil + requests, and importing the
    shared config module (msgspec structs + PyYAML), which every run loads
  - `check_registry disk` and monitoring-plugins' `check_disk` on the same directory
  - `check_registry cert` and `check_http -C` against the same local TLS registry

    python bench/check_startup.py [--runs N]

Prints min / median / max wall time in milliseconds. Figures depend on the
machine and its load; compare rows, not absolute numbers.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed.certs import issue, write_ca
from testbed.registry import Registry

PLUGINS = Path("/usr/lib/nagios/plugins")
NAME = "registry.test"


def timed(argv: list[str], runs: int) -> tuple[list[float], int, str]:
    """Wall times in ms of `runs` runs (after one warm-up), the exit code and first line."""
    first = subprocess.run(argv, capture_output=True, text=True, check=False)
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(1000 * (time.perf_counter() - begin))
    return times, first.returncode, (first.stdout.splitlines() or [""])[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    python = sys.executable
    check = str(Path(python).parent / "check_registry")

    with tempfile.TemporaryDirectory(prefix="check-bench-") as tmp:
        work = Path(tmp)
        ca = trustme.CA()
        ca_file = write_ca(ca, work / "ca.pem")
        cert = issue(ca, work / "cert", NAME, days=60)
        registry = Registry(work / "registry", tls=(cert.cert, cert.key)).start()
        try:
            config = work / "config.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "data_dir": str(registry.data_dir),
                        "public_url": f"https://{NAME}",
                        "public_connect": f"127.0.0.1:{registry.port}",
                        "ca_file": str(ca_file),
                        "cert_file": str(cert.cert),
                    }
                )
            )
            data = str(registry.data_dir)
            port = str(registry.port)
            http = [str(PLUGINS / "check_http"), "-H", "127.0.0.1", "-p", port, "-S", "--sni"]
            rows = [
                ("python -c pass", [python, "-c", "pass"]),
                ("python -c 'import psutil, requests'", [python, "-c", "import psutil, requests"]),
                (
                    "python -c 'import registry_monitor.config'",
                    [python, "-c", "import registry_monitor.config"],
                ),
                ("check_registry disk", [check, f"--config={config}", "disk"]),
                (
                    "check_disk -w 20% -c 10% -p DIR",
                    [str(PLUGINS / "check_disk"), "-w", "20%", "-c", "10%", "-p", data],
                ),
                ("check_registry cert", [check, f"--config={config}", "cert"]),
                (
                    "check_http -H 127.0.0.1 -p PORT -S --sni -C 21,7",
                    [*http, "-C", "21,7"],
                ),
            ]
            print(f"{args.runs} runs each (after one warm-up), wall time in ms\n")
            print(f"{'command':<50} {'min':>7} {'median':>7} {'max':>7}  exit")
            for label, argv in rows:
                times, code, line = timed(argv, args.runs)
                print(
                    f"{label:<50} {min(times):7.1f} {statistics.median(times):7.1f} "
                    f"{max(times):7.1f}  {code}"
                )
                if code != 0:
                    print(f"    (not OK: {line})")
        finally:
            registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
