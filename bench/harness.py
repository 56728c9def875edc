"""What the benchmarks share: cached synthetic trees and a running registry + exporter."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.synthetic import SIZES, generate
from testbed.exporter import Exporter
from testbed.registry import Registry
from testbed.rsync import SyncUnit
from testbed.systemd import FakeSystemd

# Generated trees are kept between runs (the large one takes minutes to write), outside
# the checkout (a pip install of the project would walk 700k files): in
# /var/tmp/registry-monitor-bench/trees unless BENCH_TREES names another directory.
TREES = Path(os.environ.get("BENCH_TREES") or "/var/tmp/registry-monitor-bench/trees")
TREE_VERSION = "1"  # bump when bench/synthetic.py changes what it writes


def tree(size: str) -> Path:
    """The synthetic registry data dir for a size, generated once and kept."""
    root = TREES / size
    marker = root / f".complete-v{TREE_VERSION}"
    if not marker.exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        began = time.monotonic()
        summary = generate(str(root), SIZES[size])
        print(f"# generated {size} tree in {time.monotonic() - began:.0f}s: {summary}", flush=True)
        marker.write_text("")
    return root


@dataclass
class Stack:
    registry: Registry
    exporter: Exporter
    systemd: FakeSystemd
    workdir: Path
    env: dict[str, str]

    def standby(self, active_url: str, extra_config: dict[str, Any] | None = None) -> Exporter:
        """A standby exporter (every probe but write) on the same tree, as a standby
        in step would see it, comparing with the exporter at `active_url`."""
        now = time.time()
        SyncUnit(self.systemd, "rsync://127.0.0.1:1/docker-registry-sync/", Path(".")).record(
            0, now - 30, now - 20
        )
        config = {
            **self.exporter.config,
            "node": self.exporter.config["node"] + "-standby",
            "role": "standby",
            "active_exporter_url": active_url,
            "state_dir": str(self.workdir / "standby-state"),
            **(extra_config or {}),
        }
        return Exporter(self.workdir / "standby", config, env=self.env)


@contextlib.contextmanager
def stack(size: str, extra_config: dict[str, Any] | None = None) -> Iterator[Stack]:
    """A real registry serving the tree and the exporter watching it (role active)."""
    data = tree(size)
    with tempfile.TemporaryDirectory(prefix=f"bench-{size}-") as tmp:
        work = Path(tmp)
        systemd = FakeSystemd(work / "systemd")
        registry = Registry(work / "registry", data_dir=data).start()
        # the registry's main process is the real one: the services probe reads its figures
        proc = registry.daemon.proc
        pid = proc.pid if proc is not None else 0
        systemd.set_unit("docker-registry.service", started_at=time.time() - 5, main_pid=pid)
        systemd.set_unit("nginx.service", started_at=time.time() - 5)
        systemd.set_unit("rsync.service", started_at=time.time() - 5)  # the active's daemon
        config = {
            "node": f"bench-{size}",
            "role": "active",
            "data_dir": str(data),
            "backend_url": registry.url,
            "public_url": registry.url,
            "cert_file": None,
            "write_probe": False,  # keep the cached tree unchanged between runs
            "state_dir": str(work / "state"),
            "registry_user": getpass.getuser(),  # the default config's owner sweep, on
            "canary_images": ["toolforge-image-00001:latest"],
            **(extra_config or {}),
        }
        path = f"{systemd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**systemd.env, "PATH": path}
        exporter = Exporter(work / "exporter", config, env=env)
        try:
            yield Stack(registry, exporter, systemd, work, env)
        finally:
            exporter.stop()
            registry.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def describe(values: list[float], scale: float = 1000.0) -> str:
    return (
        f"median {statistics.median(values) * scale:.2f}  p99 {percentile(values, 99) * scale:.2f}"
        f"  max {max(values) * scale:.2f}"
    )


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pid_of(exporter: Exporter) -> int:
    assert exporter.daemon.proc is not None, "exporter not started"
    return exporter.daemon.proc.pid


def wait_all_readings(exporter: Exporter, newer_than: float = 0.0, timeout: float = 900) -> None:
    """Wait until every probe the exporter runs has a reading (the first round)."""
    for probe in [p["probe"] for p in exporter.status()["probes"]]:
        exporter.wait_reading(probe, newer_than, timeout=timeout)


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kw)
