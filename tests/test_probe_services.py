import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter.metrics.services import render
from registry_monitor.base import Deadline
from registry_monitor.clients import systemd as systemctl
from registry_monitor.config import Config
from registry_monitor.judging.judge import judge
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options
from registry_monitor.judging.verdicts import load
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.service_process import FIGURES, ProcessStatus
from registry_monitor.probes.services import ServicesProbe, UnitStatus
from testbed.systemd import FakeSystemd

ROOT = Path(__file__).resolve().parent.parent


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


def test_start_times_are_asked_as_unix_seconds(systemd: FakeSystemd, tmp_path: Path) -> None:
    """`--timestamp=unix` (systemd 247 and later, as the sync probe asks): "@<seconds>",
    read without the datetime module or any zone or locale."""
    asked = tmp_path / "asked"
    wrapper = systemd.recorded_systemctl(tmp_path / "recording", asked)
    started = systemd.ago(3600)
    systemd.set_unit("docker-registry.service", started_at=started)
    reading = run_probe(
        probe(services=["docker-registry.service"], systemctl=str(wrapper)), Deadline(5)
    )
    assert reading.ok, reading.error
    assert reading.value.units[0].started_at == started
    (argv,) = asked.read_text().splitlines()
    assert "--timestamp=unix" in argv.split(), argv


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


# A main process whose figures are known: five more files open, a soft limit of 200 fds.
CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (200, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = [open("/dev/null") for _ in range(5)]
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def main_process() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    yield child
    child.kill()
    child.wait()


def vanished_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_the_main_process_figures_and_a_vanished_one(
    systemd: FakeSystemd, main_process: subprocess.Popen[str]
) -> None:
    gone = vanished_pid()
    systemd.set_unit("docker-registry.service", main_pid=main_process.pid)
    systemd.set_unit("nginx.service", main_pid=gone)
    r = run_probe(probe(), Deadline(5))
    assert r.ok, r.error
    reg, nginx = (u.process for u in r.value.units)
    assert reg is not None and nginx is not None
    fds = len(os.listdir(f"/proc/{main_process.pid}/fd"))
    assert (reg.pid, reg.problem, reg.open_fds, reg.max_fds, reg.threads) == (
        main_process.pid,
        None,
        fds,
        200,
        1,
    )
    assert fds == 8  # stdin, stdout, stderr and the five files
    status = Path(f"/proc/{main_process.pid}/status").read_text()
    rss_kib = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
    )
    assert reg.resident_memory_bytes is not None and reg.resident_memory_bytes > 0
    assert abs(reg.resident_memory_bytes - rss_kib * 1024) < 1 << 20  # a still child
    assert reg.cpu_seconds is not None and reg.started_at is not None
    assert nginx == ProcessStatus(gone, "gone", None, None, None, None, None, None)
    verdict = judge(r, load("services").thresholds(Config(), Options()))
    assert verdict.state == State.OK
    assert [i.text for i in verdict.items if i.detail][1] == (
        f"nginx.service main process: pid {gone}, not inspectable: gone"
    )
    families = {m.name: m.samples for m in render(r)}
    assert [
        (s.labels["unit"], s.value) for s in families["registry_monitor_service_process_open_fds"]
    ] == [("docker-registry.service", 8.0)]
    assert [s.value for s in families["registry_monitor_service_process_max_fds"]] == [200.0]
    # every figure read; the vanished process has none to speak of
    assert [
        (s.labels["unit"], s.labels["figure"], s.value)
        for s in families["registry_monitor_service_process_readable"]
    ] == [("docker-registry.service", figure, 1.0) for figure in FIGURES]


def read_as_nobody(pid: int, *caps: str) -> list[str]:
    """read_process(pid) in a process of user `nobody` holding these ambient capabilities:
    its problem, open_fds, max_fds, threads, whether memory was read, and what was not."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to read a process as another user")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop privileges")
    read = (
        "from registry_monitor.probes.service_process import read_process; "
        f"p = read_process({pid}); "
        "print(p.problem, p.open_fds, p.max_fds, p.threads, p.resident_memory_bytes > 0, "
        "*p.unreadable)"
    )
    granted = ",".join(f"+{cap}" for cap in caps) or "-all"
    done = subprocess.run(
        [
            setpriv,
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            f"--inh-caps={granted}",
            f"--ambient-caps={granted}",
            sys.executable,
            "-c",
            read,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0 and "Permission denied" in done.stderr:
        pytest.skip(f"nobody cannot run this Python: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_process_this_user_may_not_inspect_is_a_named_state(
    main_process: subprocess.Popen[str],
) -> None:
    """Read as `nobody`, the root-owned process keeps its descriptors to itself (prlimit(2)
    refuses its limit too); what /proc shows anyone (memory, threads, the limit in
    /proc/<pid>/limits) is still read. CAP_SYS_PTRACE does not open /proc/<pid>/fd's
    listing (mode 0500): CAP_DAC_READ_SEARCH does (the opt-in drop-in's grant)."""
    denied = ["access", "denied", "None", "200", "1", "True", "open_fds"]
    assert read_as_nobody(main_process.pid) == denied
    assert read_as_nobody(main_process.pid, "sys_ptrace") == denied
    granted = read_as_nobody(main_process.pid, "dac_read_search")
    # prlimit(2) is still refused, the limit comes from /proc/<pid>/limits
    assert granted == ["None", "8", "200", "1", "True"]
