"""Where the public name points: resolved by the system resolver, judged by role.

Names that resolve on any machine (`localhost`) or never (`.invalid`), and
documentation addresses (192.0.2.0/24, 203.0.113.0/24) for "elsewhere": no
traffic goes to them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_monitor.config import ConfigError
from registry_monitor.config.loading import load_config
from registry_monitor.probes import public_name
from registry_monitor.probes.public_name import resolve
from testbed.exporter import Exporter
from testbed.registry import Registry
from tests.support.check import run_check, write_config
from tests.support.metrics import value

ELSEWHERE = ("192.0.2.10", "203.0.113.10")


def localhost() -> tuple[str, ...]:
    """What this host's resolver answers for localhost (127.0.0.1, and ::1 where it has one)."""
    infos = socket.getaddrinfo("localhost", None, proto=socket.IPPROTO_TCP)
    return tuple(sorted({public_name.normalise(str(i[4][0])) for i in infos}))


def test_localhost_points_here_or_elsewhere() -> None:
    here = resolve("https://localhost:8443", ("127.0.0.1",), "active", 2)
    assert (here.host, here.resolves, here.points_here, here.error) == (
        "localhost",
        True,
        True,
        None,
    )
    assert "127.0.0.1" in here.addresses
    elsewhere = resolve("https://localhost", ELSEWHERE, "active", 2)
    assert (elsewhere.resolves, elsewhere.points_here) == (True, False)
    untold = resolve("https://localhost", None, "active", 2)
    assert (untold.resolves, untold.points_here) == (True, None)


def test_ipv6_spellings_compare_equal() -> None:
    name = resolve("http://[::1]:5000", ("0:0:0:0:0:0:0:1",), "active", 2)
    assert (name.addresses, name.points_here) == (("::1",), True)


def test_a_name_that_never_resolves() -> None:
    name = resolve("https://registry.invalid", ELSEWHERE, "active", 2)
    assert (name.resolves, name.addresses, name.points_here) == (False, (), False)
    assert name.error


def test_a_stuck_resolver_costs_the_reading_not_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> Any:
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(public_name.socket, "getaddrinfo", stuck)
    begin = time.monotonic()
    name = resolve("https://localhost", ELSEWHERE, "active", 0.3)
    took = time.monotonic() - begin
    release.set()
    assert (name.resolves, name.error) == (False, "resolver gave no answer in 0.3s")
    assert took < 30  # bounded by the time-out, not by the resolver


def test_bad_public_addresses_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("public_addresses: [192.0.2.1, floating-ip]\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "public_addresses: 'floating-ip' is not an IP address" in str(err.value)


def config(tmp_path: Path, registry: Registry, **extra: Any) -> dict[str, Any]:
    return {
        "data_dir": str(registry.data_dir),
        "backend_url": registry.url,
        "public_url": f"http://localhost:{registry.url.rsplit(':', 1)[1]}",
        "cert_file": None,
        "state_dir": str(tmp_path / "state"),
        **extra,
    }


@pytest.mark.parametrize(
    ("role", "addresses", "exit_code", "ending"),
    [
        ("active", ["127.0.0.1"], 0, ": this active"),
        ("active", list(ELSEWHERE), 1, ", not this active (192.0.2.10, 203.0.113.10)"),
        ("standby", list(ELSEWHERE), 0, ": not this standby"),
        ("standby", ["127.0.0.1"], 2, ": this standby (127.0.0.1)"),
    ],
)
def test_check_api_judges_where_the_name_points(
    registry: Registry,
    tmp_path: Path,
    role: str,
    addresses: list[str],
    exit_code: int,
    ending: str,
) -> None:
    cfg = write_config(
        tmp_path / "c.yaml", config(tmp_path, registry, role=role, public_addresses=addresses)
    )
    run = run_check(cfg, "api", "-v")
    line = f"public name localhost resolves to {', '.join(localhost())}{ending}"
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL"}[exit_code]
    if role == "standby" and exit_code == 2:
        line += "; pushes land here and the next sync erases them"
    if role == "active" and exit_code == 1:
        line += ": clients reach another node"
    assert f"[{state}] {line}" in run.long
    # public_url is the bare registry under another name (no nginx in front), so the
    # anonymous push is accepted: CRITICAL on its own line, named before the name's
    port = registry.url.rsplit(":", 1)[1]
    anonymous = (
        f"public http://localhost:{port}: an anonymous push was accepted (HTTP 202; the "
        "upload it opened cancelled): anyone can write to the registry; nginx's "
        "limit_except is missing"
    )
    assert f"[CRITICAL] {anonymous}" in run.long
    assert (run.exit_code, run.text) == (2, anonymous if exit_code == 0 else f"{anonymous}; {line}")
    assert run.perf("public_name_resolves").value == 1
    assert run.perf("public_name_points_here").value == (1 if "127.0.0.1" in addresses else 0)


def test_a_name_that_does_not_resolve_warns(registry: Registry, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.yaml",
        config(
            tmp_path,
            registry,
            public_url="https://registry.invalid",
            public_connect=registry.url.removeprefix("http://"),
            public_addresses=list(ELSEWHERE),
        ),
    )
    run = run_check(cfg, "api", "-v")
    assert run.state in ("WARNING", "CRITICAL")  # the public endpoint speaks no TLS here
    assert any(
        line.startswith("[WARNING] public name registry.invalid does not resolve: ")
        for line in run.long
    )
    resolves = run.perf("public_name_resolves")
    assert (resolves.value, resolves.warn) == (0, "1:")
    assert "public_name_points_here" not in run.output.perfdata


def test_exporter_metrics(
    registry: Registry, tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    here = start_exporter(
        config(tmp_path, registry, public_addresses=["127.0.0.1"]), wait_for=("api",), name="a"
    )
    text = here.metrics_text()
    assert value(text, "registry_monitor_public_name_resolves") == 1
    assert value(text, "registry_monitor_public_name_points_here") == 1
    untold = start_exporter(config(tmp_path, registry), wait_for=("api",), name="b")
    text = untold.metrics_text()
    assert value(text, "registry_monitor_public_name_resolves") == 1
    assert "registry_monitor_public_name_points_here" not in text
