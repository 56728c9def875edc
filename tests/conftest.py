"""Fixtures: real daemons on loopback in temporary directories, stopped even on failure."""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer

from testbed.certs import issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.mounts import OwnFilesystem
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.rsync import SyncUnit
from testbed.systemd import FakeSystemd
from testbed.waiting import closed_port
from tests.support.pair import Pair, running_pair


@pytest.fixture(scope="session", autouse=True)
def own_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """check_registry caches parsed configs under $XDG_CACHE_HOME: the tests' own, never
    the home directory of whoever runs them."""
    cache = tmp_path_factory.mktemp("cache-home")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    return write_ca(ca, tmp_path / "ca.pem")


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSystemd:
    """The fake systemctl first on PATH, for this process and the daemons it starts."""
    fake = FakeSystemd(tmp_path / "systemd")
    monkeypatch.setenv("FAKE_SYSTEMD_DIR", str(fake.state_dir))
    monkeypatch.setenv("PATH", f"{fake.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return fake


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """The real registry, its data on a filesystem of its own (testbed/mounts.py)."""
    disk = OwnFilesystem(tmp_path / "registry" / "disk").start()
    try:
        reg = Registry(tmp_path / "registry", data_dir=disk.path).start()
        try:
            yield reg
        finally:
            reg.stop()
    finally:
        disk.stop()


@pytest.fixture
def start_exporter(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(
        config: dict[str, Any],
        wait_for: tuple[str, ...] = (),
        name: str = "exporter",
        args: tuple[str, ...] = (),
    ) -> Exporter:
        exporter = Exporter(tmp_path / name, config, args=args)
        started.append(exporter)
        return exporter.start(wait_for)

    try:
        yield start
    finally:
        for exporter in started:
            exporter.stop()


@pytest.fixture
def fake_http() -> Iterator[HTTPServer]:
    """pytest-httpserver on 127.0.0.1, threaded so a hanging handler blocks only its request."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


REGISTRY_NAME = "registry.test"
CANARY_IMAGE = "base:latest"


@pytest.fixture
def front(registry: Registry, ca: trustme.CA, tmp_path: Path) -> Iterator[Nginx]:
    """The registry behind real nginx with TLS, as REGISTRY_NAME (certificate in tmp/live)."""
    cert = issue(ca, tmp_path / "live", REGISTRY_NAME, days=60)
    nginx = Nginx(tmp_path / "nginx", registry.url, REGISTRY_NAME, cert.cert, cert.key).start()
    try:
        yield nginx
    finally:
        nginx.stop()


@pytest.fixture
def registry_node(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path, systemd: FakeSystemd
) -> Iterator[dict[str, object]]:
    """A healthy active node's config: registry behind nginx (TLS), units active, canary pushed."""
    nginx = front
    systemd.set_unit("docker-registry.service")
    systemd.set_unit("nginx.service")
    systemd.set_unit("rsync.service")  # the active's rsync daemon, the standby's source
    Pusher(registry.url).push_image(*CANARY_IMAGE.split(":"))
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("builder:$apr1$testbed$0000000000000000000000\n")
    yield {
        "data_dir": str(registry.data_dir),
        "backend_url": registry.url,
        "public_url": f"https://{REGISTRY_NAME}",
        "public_connect": nginx.connect,
        "ca_file": str(ca_file),
        "cert_file": str(nginx.cert),
        "canary_images": [CANARY_IMAGE],
        "state_dir": str(tmp_path / "state"),
        "registry_user": getpass.getuser(),
        "parity_files": {
            "registry_config": str(registry.config_path),
            "nginx_site": str(nginx.config_path),
            "htpasswd": str(htpasswd),
        },
    }


@pytest.fixture
def pair(tmp_path: Path, systemd: FakeSystemd) -> Iterator[Pair]:
    """An active and a standby registry, and the standby's sync unit (real rsync)."""
    with running_pair(tmp_path, systemd) as running:
        yield running


FRESH_BOOT_SECONDS = 60


@pytest.fixture
def sync_unit(systemd: FakeSystemd, tmp_path: Path) -> SyncUnit:
    """The rsync unit and its timer, never run yet (its source is closed), on a systemd
    booted 60 s ago: the worst case for ages, so older runs must come from the state file."""
    systemd.boot = time.time() - FRESH_BOOT_SECONDS
    source = f"rsync://127.0.0.1:{closed_port()}/docker-registry-sync/"
    return SyncUnit(systemd, source, tmp_path / "data")
