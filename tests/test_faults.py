"""Faults on one node, with the real exporter process: the registry killed and restarted, a
full data filesystem, a probe raising what it never should, a renderer that breaks."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from registry_monitor.probes.disk import DiskUsage
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.mounts import can_mount, tmpfs
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from testbed.waiting import closed_port
from tests.support.metrics import names, series, value
from tests.support.nodes import CANARY, base_config

Start = Callable[..., Exporter]


@pytest.fixture
def units(systemd: FakeSystemd) -> FakeSystemd:
    systemd.set_unit("docker-registry.service")
    systemd.set_unit("nginx.service")
    systemd.set_unit("rsync.service")
    return systemd


def fast(*probes: str, every: float = 1.0) -> dict[str, dict[str, float]]:
    return {"intervals": dict.fromkeys(probes, every), "timeouts": dict.fromkeys(probes, every)}


def test_registry_killed_and_restarted(
    registry: Registry, units: FakeSystemd, start_exporter: Start
) -> None:
    Pusher(registry.url).push_image(*CANARY.split(":"))
    exporter = start_exporter(
        base_config(registry, **fast("api", "write")), wait_for=("api", "write", "disk")
    )
    assert exporter.daemon.proc is not None
    pid = exporter.daemon.proc.pid

    registry.kill()  # SIGKILL: no goodbye, as an OOM kill or a crash
    killed = time.time()
    exporter.wait_reading("api", newer_than=killed)
    exporter.wait_reading("write", newer_than=killed)
    text = exporter.metrics_text()
    for probe in ("api", "write", "disk", "services"):  # a dead registry is a finding
        assert value(text, "registry_monitor_probe_success", probe=probe) == 1, probe
    assert value(text, "registry_monitor_api_up", endpoint="backend") == 0
    assert value(text, "registry_monitor_api_status_code", endpoint="backend") == 0
    assert value(text, "registry_monitor_catalog_up", endpoint="backend") == 0
    assert value(text, "registry_monitor_manifest_up", endpoint="backend", image=CANARY) is None
    assert value(text, "registry_monitor_write_up", endpoint="backend") == 0
    assert exporter.probe_status("write")["value"]["error"] == "connection refused"

    registry.start()  # same port, same data
    restarted = time.time()
    exporter.wait_reading("api", newer_than=restarted)
    exporter.wait_reading("write", newer_than=restarted)
    text = exporter.metrics_text()
    assert value(text, "registry_monitor_api_up", endpoint="backend") == 1
    assert value(text, "registry_monitor_api_status_code", endpoint="backend") == 200
    assert value(text, "registry_monitor_catalog_up", endpoint="backend") == 1
    assert value(text, "registry_monitor_manifest_up", endpoint="backend", image=CANARY) == 1
    assert value(text, "registry_monitor_write_up", endpoint="backend") == 1
    assert value(text, "registry_monitor_probe_success", probe="api") == 1
    assert exporter.daemon.proc is not None and exporter.daemon.proc.pid == pid
    assert requests.get(f"{exporter.url}/healthz", timeout=5).json() == {"status": "ok"}


def fill(directory: Path) -> int:
    """Write until the filesystem says ENOSPC; the bytes written."""
    written = 0
    chunk = b"\0" * 65536
    with (directory / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                written += f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return written


@pytest.fixture
def full_registry(tmp_path: Path) -> Iterator[Registry]:
    reason = can_mount()
    if reason:
        pytest.skip(f"disk-full fault needs a small filesystem of its own: {reason}")
    with tmpfs(tmp_path / "mnt", size="8m") as mount:
        registry = Registry(tmp_path / "registry", data_dir=mount / "srv")
        try:
            registry.start()
            Pusher(registry.url).push_image(*CANARY.split(":"))
            yield registry
        finally:
            registry.stop()


def test_disk_full_fails_writes_and_says_full(
    full_registry: Registry, units: FakeSystemd, start_exporter: Start
) -> None:
    assert fill(full_registry.data_dir) > 0
    exporter = start_exporter(
        base_config(full_registry, **fast("write", "disk", "api")),
        wait_for=("disk", "write", "api"),
    )
    text = exporter.metrics_text()
    labels = {
        "path": str(full_registry.data_dir),
        "mountpoint": str(full_registry.data_dir.parent),
        "device": "tmpfs",
        "fstype": "tmpfs",
    }
    assert value(text, "registry_monitor_filesystem_size_bytes", **labels) == 8 * 2**20
    assert value(text, "registry_monitor_filesystem_avail_bytes", **labels) == 0
    assert value(text, "registry_monitor_filesystem_free_bytes", **labels) == 0
    disk = exporter.probe_status("disk")
    assert DiskUsage(**disk["value"]).used_percent == 100.0
    # reads still work, pushes do not: what users would otherwise find first
    assert value(text, "registry_monitor_api_up", endpoint="backend") == 1
    assert value(text, "registry_monitor_manifest_up", endpoint="backend", image=CANARY) == 1
    assert value(text, "registry_monitor_write_up", endpoint="backend") == 0
    assert value(text, "registry_monitor_probe_success", probe="write") == 1
    write = exporter.probe_status("write")["value"]
    assert (write["up"], write["status_code"]) == (False, 500)
    assert write["error"].startswith("starting an upload answered HTTP 500")

    (full_registry.data_dir / "filler").unlink()
    freed = time.time()
    exporter.wait_reading("write", newer_than=freed)
    exporter.wait_reading("disk", newer_than=freed)
    text = exporter.metrics_text()
    assert value(text, "registry_monitor_write_up", endpoint="backend") == 1
    avail = value(text, "registry_monitor_filesystem_avail_bytes", **labels)
    assert avail is not None and avail > 7 * 2**20


SURPRISE = """
import itertools

import registry_monitor.probes.cert

_runs = itertools.count(1)


def _surprise(self, deadline):
    raise RuntimeError(f"surprise number {next(_runs)}")


registry_monitor.probes.cert.CertProbe.__call__ = _surprise
"""

BROKEN_RENDERER = """
import exporter.metrics.services


def _broken(reading):
    raise KeyError("no such unit field")


exporter.metrics.services.render = _broken
"""


def start_patched(workdir: Path, config: dict[str, Any], patch: str) -> Exporter:
    """The real exporter with one part replaced at start-up (sitecustomize on PYTHONPATH):
    the only way to make a probe do what no input makes it do."""
    site = workdir / "site"
    site.mkdir(parents=True)
    (site / "sitecustomize.py").write_text(patch)
    return Exporter(workdir, config, env={"PYTHONPATH": str(site)})


@pytest.fixture
def patched() -> Iterator[list[Exporter]]:
    started: list[Exporter] = []
    try:
        yield started
    finally:
        for exporter in started:
            exporter.stop()


def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


def test_probe_raising_unexpectedly_logs_once_and_others_keep_running(
    tmp_path: Path, units: FakeSystemd, patched: list[Exporter]
) -> None:
    config = {
        "node": "n1",
        "data_dir": str(tmp_path),
        "backend_url": closed_url(),
        "public_url": closed_url(),
        "services": ["docker-registry.service"],
        # 3 s for what runs a subprocess or walks the mounts: a loaded machine's pace
        "intervals": {"cert": 0.5, "disk": 3, "services": 3},
        "timeouts": {"cert": 0.5, "disk": 3, "services": 3},
    }
    exporter = start_patched(tmp_path / "exp", config, SURPRISE)
    patched.append(exporter)
    exporter.start(wait_for=("cert", "disk", "services"))
    for _ in range(3):  # the failing probe keeps being run, and so do the others
        cert = exporter.wait_reading("cert", newer_than=time.time())
        exporter.wait_reading("disk", newer_than=cert["started_at"])
        exporter.wait_reading("services", newer_than=cert["started_at"])
    n = int(cert["error"].removeprefix("RuntimeError: surprise number "))
    assert n >= 4
    assert (cert["ok"], cert["value"]) == (False, None)
    text = exporter.metrics_text()
    assert value(text, "registry_monitor_probe_success", probe="cert") == 0
    assert value(text, "registry_monitor_probe_success", probe="disk") == 1
    assert value(text, "registry_monitor_probe_success", probe="services") == 1
    assert value(text, "registry_monitor_service_active", unit="docker-registry.service") == 1
    # a failed reading costs its series: no cert_* series at all, whatever their labels
    assert {n for n in names(text) if n.startswith("registry_monitor_cert")} == set()
    exporter.stop()
    log = (tmp_path / "exp" / "exporter.log").read_text()
    about_cert = [line for line in log.splitlines() if "probe cert" in line]
    assert len(about_cert) == 1, log
    assert about_cert[0].endswith(
        " WARNING exporter.scheduler: probe cert failing: RuntimeError: surprise number 1"
    )
    assert "Traceback" not in log


def test_renderer_bug_costs_its_series_and_one_traceback(
    tmp_path: Path, units: FakeSystemd, patched: list[Exporter]
) -> None:
    config = {
        "node": "n1",
        "data_dir": str(tmp_path),
        "backend_url": closed_url(),
        "public_url": closed_url(),
        "services": ["docker-registry.service"],
    }
    exporter = start_patched(tmp_path / "exp", config, BROKEN_RENDERER)
    patched.append(exporter)
    exporter.start(wait_for=("disk", "services"))
    for _ in range(5):
        text = exporter.metrics_text()
        assert value(text, "registry_monitor_probe_success", probe="services") == 1
        assert (
            value(text, "registry_monitor_service_active", unit="docker-registry.service") is None
        )
        # the disk renderer is not the broken one: its series stay, all four labels set
        assert [
            (s.labels["path"], s.value)
            for s in series(text, "registry_monitor_filesystem_readonly")
        ] == [(str(tmp_path), 0.0)]
        assert "registry_monitor_filesystem_size_bytes{" in text
    exporter.stop()
    log = (tmp_path / "exp" / "exporter.log").read_text()
    assert log.count("rendering metrics of probe services failed") == 1, log
    assert log.count("Traceback") == 1
    assert "KeyError: 'no such unit field'" in log


BROKEN_RUNNER = """
import registry_monitor.probes.reading

_run = registry_monitor.probes.reading.ProbeRunner.run


def _broken(self):
    if self.name == "cert":
        raise AttributeError("runner bug")
    return _run(self)


registry_monitor.probes.reading.ProbeRunner.run = _broken
"""


def test_runner_bug_fails_the_probe_with_one_traceback(
    tmp_path: Path, units: FakeSystemd, patched: list[Exporter]
) -> None:
    config = {
        "node": "n1",
        "data_dir": str(tmp_path),
        "backend_url": closed_url(),
        "public_url": closed_url(),
        **fast("cert", "disk", every=0.5),
    }
    exporter = start_patched(tmp_path / "exp", config, BROKEN_RUNNER)
    patched.append(exporter)
    exporter.start(wait_for=("cert", "disk"))
    for _ in range(4):  # the loop goes on, for it and for the others
        cert = exporter.wait_reading("cert", newer_than=time.time())
        exporter.wait_reading("disk", newer_than=cert["started_at"])
    assert (cert["ok"], cert["value"], cert["error"]) == (
        False,
        None,
        "runner failed: AttributeError: runner bug",
    )
    text = exporter.metrics_text()
    assert value(text, "registry_monitor_probe_success", probe="cert") == 0
    assert value(text, "registry_monitor_probe_success", probe="disk") == 1
    exporter.stop()
    log = (tmp_path / "exp" / "exporter.log").read_text()
    assert log.count("probe cert: runner failed") == 1, log
    assert log.count("Traceback") == 1
    assert "AttributeError: runner bug" in log
