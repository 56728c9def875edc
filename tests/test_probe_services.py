import time
from datetime import UTC, datetime

import pytest

from registry_monitor import systemd as systemctl
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.services import ServicesProbe, UnitStatus
from testbed.systemd import FakeSystemd


def probe(**kw: object) -> ServicesProbe:
    units = ("docker-registry.service", "nginx.service")  # the role's default: test_config.py
    return ServicesProbe(Config(**{"services": units, **kw}))  # type: ignore[arg-type]


def test_active_and_failed_units(systemd: FakeSystemd) -> None:
    started = systemd.ago(3600)
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
    assert reg.started_at == started
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


def registry_unit() -> UnitStatus:
    reading = run_probe(probe(services=["docker-registry.service"]), Deadline(5))
    assert reading.ok, reading.error
    unit: UnitStatus = reading.value.units[0]
    return unit


def test_restart_shows_as_new_start_time(systemd: FakeSystemd) -> None:
    first = systemd.ago(600)
    systemd.set_unit("docker-registry.service", started_at=first)
    before = registry_unit()
    second = systemd.ago(1)
    systemd.set_unit("docker-registry.service", started_at=second)
    after = registry_unit()
    assert before.restarts == after.restarts == 0
    assert (before.started_at, after.started_at) == (first, second)


def test_start_time_is_the_same_on_every_run(systemd: FakeSystemd) -> None:
    """The realtime timestamp, not the monotonic one converted with this process's
    clocks, which moved by up to a second between runs (false restarts in changes())."""
    started = systemd.ago(3600) + 0.75  # systemd keeps microseconds, shows whole seconds
    systemd.set_unit("docker-registry.service", started_at=started)
    seen = {registry_unit().started_at for _ in range(5)}
    assert seen == {float(int(started))}


def test_start_time_whatever_the_exporters_time_zone(
    systemd: FakeSystemd, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemctl would print "XYZ" times an hour ahead, but it is run with TZ=UTC
    monkeypatch.setenv("TZ", "XYZ-1")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    started = systemd.ago(3600)
    systemd.set_unit("docker-registry.service", started_at=started)
    assert registry_unit().started_at == started


@pytest.mark.parametrize(
    "realtime",
    ["", "n/a", "So 2026-11-29 07:38:59 CET", "Sun 2026-11-29 06:38:59"],
    ids=["empty", "n/a", "localised", "no-zone"],
)
def test_start_time_falls_back_to_monotonic(systemd: FakeSystemd, realtime: str) -> None:
    started = systemd.ago(3600) + 0.5
    systemd.set_unit(
        "docker-registry.service", started_at=started, extra={"ActiveEnterTimestamp": realtime}
    )
    # converted through the monotonic clock, twice (the fake systemctl, then the probe),
    # each reading the two clocks one after the other: off by at most the time the
    # round trip took, however long a loaded machine makes that
    before = time.monotonic()
    seen = registry_unit().started_at
    took = time.monotonic() - before
    assert seen is not None
    assert abs(seen - started) <= took + 1e-5, (seen - started, took)


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("Sun 2026-11-29 06:38:59 UTC", datetime(2026, 11, 29, 6, 38, 59, tzinfo=UTC).timestamp()),
        ("Thu 1970-01-01 00:00:01 UTC", 1.0),
        (" Mon 2024-02-29 23:59:59 UTC\n", 1709251199.0),
        ("", None),
        (None, None),
        ("n/a", None),
        ("Sun 2026-11-29 07:38:59 CET", None),
        ("2026-11-29 06:38:59 UTC", None),
    ],
)
def test_realtime_timestamp_parsing(text: str | None, unix: float | None) -> None:
    assert systemctl.realtime_to_unix(text) == unix
