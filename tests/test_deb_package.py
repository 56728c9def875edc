"""The Debian package, installed and purged as an operator would (`make deb-test`).

Runs only as root on a host that does not have the package already (it would
replace the host's own install), against `dist/registry-monitor_*.deb` built by
`make deb`. Whatever the test installs or creates, it removes again, even when
it fails: the package, the `registry-monitor` user and group (only if it made
them), and the files purge must remove anyway.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from testbed.daemon import Daemon
from testbed.registry import Registry
from testbed.waiting import free_port, wait_until

pytestmark = pytest.mark.deb

REPO = Path(__file__).resolve().parent.parent
USER = "registry-monitor"
# Everything the package puts on the host besides the user and its group.
PACKAGE_PATHS = (
    Path("/usr/lib/registry-monitor"),
    Path("/usr/bin/registry-exporter"),
    Path("/usr/bin/check_registry"),
    Path("/usr/lib/nagios/plugins/check_registry"),
    Path("/lib/systemd/system/registry-exporter.service"),
    Path("/lib/systemd/system/rsync-docker-registry-sync.service.d/registry-monitor-guard.conf"),
    Path("/etc/registry-monitor"),
    Path("/var/lib/registry-monitor"),
    Path("/usr/share/registry-monitor"),
    Path("/usr/share/doc/registry-monitor"),
    Path("/usr/share/man/man1/check_registry.1.gz"),
)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)


def installed() -> bool:
    done = run("dpkg-query", "-W", "-f=${Status}", "registry-monitor")
    return done.returncode == 0 and "installed" in done.stdout.split()


def user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def package() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if installed():
        pytest.skip("registry-monitor is installed on this host; not replacing it")
    debs = sorted((REPO / "dist").glob("registry-monitor_*.deb"))
    if not debs:
        pytest.fail("no dist/registry-monitor_*.deb: run `make deb` first (make deb-test does)")
    had_user = user_exists()
    leftovers = [p for p in PACKAGE_PATHS if p.exists()]
    assert leftovers == [], f"the host already has the package's files: {leftovers}"
    done = run("apt-get", "install", "-y", "-q", "--no-install-recommends", str(debs[-1]))
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield debs[-1]
    finally:
        if installed():
            run("apt-get", "purge", "-y", "-q", "registry-monitor")
        if not had_user and user_exists():
            run("deluser", "--system", "--quiet", USER)
            run("delgroup", "--system", "--quiet", USER)
        for path in PACKAGE_PATHS:  # a failed purge must not leave the host changed
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists() or path.is_symlink():
                path.unlink()


def test_both_commands_are_on_the_path(package: Path) -> None:
    version = package.name.split("_")[1]
    exporter = run("registry-exporter", "--version")
    check = run("check_registry", "--version")
    assert (exporter.returncode, exporter.stdout.split()[:2]) == (
        0,
        ["registry-exporter", version],
    )
    # a plugin's --version exits UNKNOWN (3), as the guidelines say
    assert (check.returncode, check.stdout.split()[:2]) == (3, ["check_registry", version])
    assert shutil.which("check_registry") == "/usr/bin/check_registry"
    assert os.access("/usr/lib/nagios/plugins/check_registry", os.X_OK)


def test_installed_unit_verifies(package: Path) -> None:
    unit = Path("/lib/systemd/system/registry-exporter.service")
    done = run("systemd-analyze", "verify", str(unit))
    # verify also reads the units this one names (docker-registry, nginx): only its own lines count
    own = [line for line in done.stderr.splitlines() if "registry-exporter.service" in line]
    assert own == [], done.stderr
    assert "ExecStart=/usr/bin/registry-exporter " in unit.read_text()


def test_user_and_config_are_set_up(package: Path) -> None:
    user = pwd.getpwnam(USER)
    assert user.pw_uid < 1000  # a system user
    assert grp.getgrgid(user.pw_gid).gr_name == USER
    if any(g.gr_name == "docker-registry" for g in grp.getgrall()):
        assert USER in grp.getgrnam("docker-registry").gr_mem
    example = Path("/etc/registry-monitor/config.yaml.example")
    info = example.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, grp.getgrgid(info.st_gid).gr_name) == (
        0o640,
        0,
        USER,
    )
    state = Path("/var/lib/registry-monitor").stat()
    assert (stat.S_IMODE(state.st_mode), pwd.getpwuid(state.st_uid).pw_name) == (0o750, USER)
    conffiles = run("dpkg-query", "--showformat=${Conffiles}", "--show", "registry-monitor")
    assert "/etc/registry-monitor/config.yaml.example" in conffiles.stdout
    assert Path("/usr/share/registry-monitor/icinga2/registry-monitor.conf").is_file()


def test_exporter_runs_as_its_user_against_a_real_registry(package: Path) -> None:
    # a directory the unprivileged user can read (pytest's tmp_path is root's alone)
    base = Path(tempfile.mkdtemp(prefix="registry-monitor-deb-"))
    registry = None
    daemon = None
    try:
        base.chmod(0o755)
        registry = Registry(base / "registry").start()
        port = free_port()
        config = base / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "node": "deb-test",
                    "backend_url": registry.url,
                    "public_url": registry.url,
                    "data_dir": str(registry.data_dir),
                    "cert_file": None,
                    "registry_user": None,
                    "write_probe": False,
                }
            )
        )
        config.chmod(0o644)
        daemon = Daemon(
            [
                "setpriv",
                f"--reuid={USER}",
                f"--regid={USER}",
                "--init-groups",
                "/usr/bin/registry-exporter",
                "--config",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{port}",
            ],
            base / "exporter.log",
        )
        daemon.start()

        def backend_up() -> str | None:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                return None
            return text if 'registry_monitor_api_up{endpoint="backend"} 1.0' in text else None

        text = wait_until(backend_up, 30, "the packaged exporter's /metrics")
        assert 'registry_monitor_node_info{node="deb-test",role="active"} 1.0' in text
        assert daemon.proc is not None
        assert pwd.getpwuid(Path(f"/proc/{daemon.proc.pid}").stat().st_uid).pw_name == USER
    finally:
        if daemon is not None:
            daemon.stop()
        if registry is not None:
            registry.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_purge_leaves_only_the_user(package: Path) -> None:
    done = run("apt-get", "purge", "-y", "-q", "registry-monitor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not installed()
    assert [p for p in PACKAGE_PATHS if p.exists() or p.is_symlink()] == []
    assert user_exists()  # Debian policy: a package does not remove its system user
