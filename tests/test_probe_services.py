import time

import psutil
import pytest

from exporter.config import Config
from exporter.probes.reading import Deadline, run_probe
from exporter.probes.services import ServicesProbe
from testbed.systemd import FakeSystemd


def ago(seconds: float) -> float:
    """A time in the past, but after boot: systemd's monotonic timestamps start at boot."""
    return max(time.time() - seconds, psutil.boot_time() + 1)


def probe(**kw: object) -> ServicesProbe:
    return ServicesProbe(Config(**kw))  # type: ignore[arg-type]


def test_active_and_failed_units(systemd: FakeSystemd) -> None:
    started = ago(3600)
    systemd.set_unit("docker-registry.service", "active", started_at=started, main_pid=1234)
    systemd.set_unit("nginx.service", "failed", restarts=3)
    r = run_probe(probe(), Deadline(5))
    assert r.ok, r.error
    reg, nginx = r.value.units
    assert (reg.unit, reg.active, reg.active_state, reg.sub_state, reg.main_pid) == (
        "docker-registry.service",
        True,
        "active",
        "running",
        1234,
    )
    assert reg.started_at == pytest.approx(started, abs=0.01)
    assert (nginx.active, nginx.active_state, nginx.restarts, nginx.main_pid) == (
        False,
        "failed",
        3,
        None,
    )


def test_unknown_unit_is_not_found_not_a_crash(systemd: FakeSystemd) -> None:
    r = run_probe(probe(services=["nope.service"]), Deadline(5))
    assert r.ok
    (unit,) = r.value.units
    assert (unit.load_state, unit.active_state, unit.active, unit.started_at) == (
        "not-found",
        "inactive",
        False,
        None,
    )


def test_missing_systemctl_is_a_failed_reading(systemd: FakeSystemd) -> None:
    r = run_probe(probe(systemctl="/nonexistent/systemctl"), Deadline(5))
    assert (r.ok, r.value) == (False, None)
    assert r.error == "/nonexistent/systemctl not found (no systemd on this host?)"


def test_stalled_systemd_times_out(systemd: FakeSystemd) -> None:
    systemd.hang(30)
    begin = time.monotonic()
    r = run_probe(probe(), Deadline(0.5))
    assert time.monotonic() - begin < 5
    assert r.error == "systemctl show did not answer within 0.5s (systemd or D-Bus stalled?)"


def test_no_bus_is_a_failed_reading(systemd: FakeSystemd) -> None:
    systemd.bus_down()
    r = run_probe(probe(), Deadline(5))
    assert r.error == "systemctl show exited 1: Failed to connect to bus: No such file or directory"


def test_restart_shows_as_new_start_time(systemd: FakeSystemd) -> None:
    first = ago(600)
    systemd.set_unit("docker-registry.service", started_at=first)
    before = run_probe(probe(services=["docker-registry.service"]), Deadline(5)).value.units[0]
    second = time.time() - 1
    systemd.set_unit("docker-registry.service", started_at=second)
    after = run_probe(probe(services=["docker-registry.service"]), Deadline(5)).value.units[0]
    assert before.restarts == after.restarts == 0
    assert after.started_at - before.started_at == pytest.approx(second - first, abs=0.01)
