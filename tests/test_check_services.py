"""check_registry services on the fake systemctl (the only faked part)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from pathlib import Path

from testbed.systemd import FakeSystemd
from tests.support.check import run_check, write_config

TWO_UNITS = ["docker-registry.service", "nginx.service"]  # the role's default is another test's


def config(tmp_path: Path, **extra: object) -> Path:
    return write_config(
        tmp_path / "config.yaml", {"data_dir": str(tmp_path), "services": TWO_UNITS, **extra}
    )


def test_all_units_active(systemd: FakeSystemd, tmp_path: Path) -> None:
    """Each unit's line, then its main process's: a real one (a sleep the test started)
    with its figures, and one that ended before the check read it."""
    started = systemd.ago(3600)
    with subprocess.Popen(["sleep", "600"]) as daemon:
        gone = subprocess.Popen(["true"])
        gone.wait()
        try:
            systemd.set_unit("docker-registry.service", started_at=started, main_pid=daemon.pid)
            systemd.set_unit("nginx.service", restarts=2, main_pid=gone.pid)
            run = run_check(config(tmp_path), "services", "-v")
            fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # sleep inherits this one
        finally:
            daemon.kill()
    assert (run.exit_code, run.state, run.text) == (0, "OK", "2/2 units active")
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    assert run.long[0] in {
        f"[OK] docker-registry.service active (running), since {since}, pid {daemon.pid}",
        # the monotonic round trip may cross a second boundary
        f"[OK] docker-registry.service active (running), since "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(started - 1))}, pid {daemon.pid}",
    }
    assert re.fullmatch(
        rf"- docker-registry.service main process: pid {daemon.pid}, [0-9.]+ MiB resident, "
        rf"{fds}/{limit} fds, 1 thread, [0-9.]+ s CPU",
        run.long[1],
    ), run.long[1]
    assert run.long[2].startswith("[OK] nginx.service active (running), since ")
    assert run.long[2].endswith(f", pid {gone.pid}, 2 automatic restarts")
    assert run.long[3] == f"- nginx.service main process: pid {gone.pid}, not inspectable: gone"
    assert run.stdout.splitlines()[0].split(" | ")[1] == (
        "active_docker-registry.service=1;;1:;0;1 restarts_docker-registry.service=0c "
        "active_nginx.service=1;;1:;0;1 restarts_nginx.service=2c"
    )


def test_failed_and_missing_units_are_critical(systemd: FakeSystemd, tmp_path: Path) -> None:
    systemd.set_unit("docker-registry.service", "failed")
    systemd.set_unit("nginx.service")
    cfg = config(tmp_path, services=["docker-registry.service", "nginx.service", "gone.service"])
    run = run_check(cfg, "services", "-v")
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text == (
        "docker-registry.service failed (failed); gone.service not found (no such unit)"
    )
    assert [line.split(" ")[0] for line in run.long] == ["[CRITICAL]", "[OK]", "[CRITICAL]"]
    assert run.perf("active_docker-registry.service").value == 0
    assert run.perf("active_gone.service").value == 0


def test_inactive_unit_is_critical(systemd: FakeSystemd, tmp_path: Path) -> None:
    systemd.set_unit("docker-registry.service", "inactive")
    systemd.set_unit("nginx.service", "activating", sub_state="start")
    run = run_check(config(tmp_path), "services")
    assert (run.exit_code, run.text) == (
        2,
        "docker-registry.service inactive (dead); nginx.service activating (start)",
    )


def test_no_systemctl_is_unknown(systemd: FakeSystemd, tmp_path: Path) -> None:
    run = run_check(config(tmp_path, systemctl="/nonexistent/systemctl"), "services")
    assert (run.exit_code, run.state, run.text) == (
        3,
        "UNKNOWN",
        "/nonexistent/systemctl not found (no systemd on this host?)",
    )


def test_bus_down_is_unknown(systemd: FakeSystemd, tmp_path: Path) -> None:
    systemd.bus_down()
    run = run_check(config(tmp_path), "services")
    assert (run.exit_code, run.text) == (
        3,
        "systemctl show exited 1: Failed to connect to bus: No such file or directory",
    )


def test_services_take_no_thresholds(systemd: FakeSystemd, tmp_path: Path) -> None:
    run = run_check(config(tmp_path), "services", "-w", "1")
    assert (run.exit_code, run.text) == (
        3,
        "services does not take -w: a unit is active or it is not (see check_registry --help)",
    )


def test_stalled_systemd_is_unknown_within_the_probes_time_out(
    systemd: FakeSystemd, tmp_path: Path
) -> None:
    systemd.hang(30)
    run = run_check(config(tmp_path, timeouts={"services": 1}), "services", "-t", "10")
    assert (run.exit_code, run.text) == (
        3,
        "systemctl show did not answer within 1s (systemd or D-Bus stalled?)",
    )
