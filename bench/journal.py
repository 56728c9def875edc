"""The cost of durations from the registry's journal, on a real host (root; the real-host
testbed: a bookworm container under systemd, puppet's layout, the package installed).

    python -m bench.journal [--requests 5000] [--rate 50] [--seconds 60]

1. read: --requests tags/list requests through nginx, then the installed package's
   JournalFollower reads their entries in one go inside the host (journalctl and
   parsing together, no deadline): entries/s and bytes per entry; and journalctl alone
   over the same entries, its output discarded.
2. follow: the exporter (the package's unit, traffic every 5 s) while a client sends
   --rate requests/s through nginx for --seconds, against a window of the same length
   with none: its CPU with journalctl's (utime, stime, cutime, cstime), % of one core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from testbed import installed
from testbed.realhost import Host
from tests.support.realhosts import booted, require_root_and_tools
from tests.test_real_host import CANARY, push

TAGS = f"/v2/{CANARY.split(':')[0]}/tags/list"
PYTHON = "/usr/lib/registry-monitor/bin/python3"  # the package's own environment

LOAD = """
import http.client, ssl, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", 443, context=ctx, timeout=30)
start = time.monotonic()
for i in range(n):
    if rate:
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
    c.request("GET", sys.argv[3], headers={"Host": "docker-registry.tools.wmflabs.org"})
    r = c.getresponse()
    r.read()
"""

READ = """
import json, sys, time
from pathlib import Path
from registry_monitor.base import Deadline
from registry_monitor.journal.follow import JournalFollower
state = Path("/root/bench-cursor.json")
state.unlink(missing_ok=True)
f = JournalFollower("docker-registry.service", state, max_bytes_per_read=1 << 40)
f.read(Deadline(60), lambda r: None)  # the end
sys.stdout.write(f.cursor + "\\n")
sys.stdout.flush()
sys.stdin.readline()  # the requests are sent meanwhile
got = []
t = time.perf_counter()
batch = f.read(Deadline(3600), got.append)
took = time.perf_counter() - t
print(json.dumps({"entries": batch.entries, "requests": len(got), "bytes": batch.bytes_read,
                  "seconds": took}))
"""


def cpu_seconds(host: Host) -> float:
    """The exporter's CPU and its reaped children's (journalctl), from /proc inside the
    host: the container has no cgroup CPU accounting."""
    pid = host.show("registry-exporter.service", "MainPID")["MainPID"]
    fields = host.run(["cat", f"/proc/{pid}/stat"]).stdout.rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / int(host.run(["getconf", "CLK_TCK"]).stdout)


def load(host: Host, n: int, rate: float) -> None:
    host.run(["python3", "-c", LOAD, str(n), str(rate), TAGS], timeout=3600)


def read_cost(host: Host, requests: int) -> None:
    assert host.leader is not None
    reader = subprocess.Popen(
        ["nsenter", "-t", str(host.leader), "-a", PYTHON, "-c", READ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdin is not None and reader.stdout is not None
    cursor = reader.stdout.readline().strip()
    load(host, requests, 0)
    reader.stdin.write("go\n")
    reader.stdin.flush()
    result = json.loads(reader.stdout.readline())
    reader.wait(60)
    rate = result["entries"] / result["seconds"]
    print(
        f"follower: {result['entries']} entries ({result['requests']} requests) in "
        f"{result['seconds']:.2f} s: {rate:,.0f} entries/s, "
        f"{result['bytes'] / max(1, result['entries']):.0f} bytes/entry"
    )
    t = time.perf_counter()
    out = host.run(
        [
            "sh",
            "-c",
            "journalctl --unit docker-registry.service --output=json "
            f"--output-fields=MESSAGE --no-pager --after-cursor '{cursor}' | wc -l",
        ],
        timeout=600,
    ).stdout.strip()
    took = time.perf_counter() - t
    print(f"journalctl alone: {out} lines in {took:.2f} s: {int(out) / took:,.0f} lines/s")


def follow_cost(host: Host, rate: float, seconds: float) -> None:
    before, t = cpu_seconds(host), time.monotonic()
    time.sleep(seconds)
    idle = (cpu_seconds(host) - before) / (time.monotonic() - t) * 100
    before, t = cpu_seconds(host), time.monotonic()
    load(host, int(rate * seconds), rate)
    time.sleep(6)  # the next traffic run reads the last of them
    busy = (cpu_seconds(host) - before) / (time.monotonic() - t) * 100
    print(f"exporter: {idle:.2f} % of a core idle, {busy:.2f} % at {rate:g} requests/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    require_root_and_tools()
    deb = installed.built_package()
    with tempfile.TemporaryDirectory() as work, booted(Path(work), deb, ("active",)) as nodes:
        (node,) = nodes
        push(node.host, CANARY)
        installed.configure(node.host, node.config)
        installed.wait_for_readings(node.host, ("traffic",))
        read_cost(node.host, args.requests)
        follow_cost(node.host, args.rate, args.seconds)


if __name__ == "__main__":
    main()
