"""The exporter as the systemd unit runs it: no capabilities, no write access to the registry
data, which it reads as a member of the registry's group. Everything works but what needs
more (here a certificate file in a directory it may not enter), which is an error reading."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from testbed.certs import issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from tests.support.metrics import value

NAME = "registry.test"
CANARY = "toolforge-base:latest"
NO_CAPABILITIES = ("--inh-caps=-all", "--bounding-set=-all", "--no-new-privs")


def registry_ids() -> tuple[int, int, str | None]:
    """uid, gid and name of the registry's user (Debian's docker-registry, or a stand-in)."""
    try:
        user = pwd.getpwnam("docker-registry")
    except KeyError:
        return 64123, 64123, None
    return user.pw_uid, user.pw_gid, user.pw_name


def drop_privileges(group: int, script: Path) -> tuple[str, ...]:
    """setpriv arguments for `nobody` in the registry's group with no capabilities, or, when
    `nobody` cannot run this Python's scripts (a virtualenv under /root), root's uid with
    every capability dropped: then, too, only the permission bits decide."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop privileges")
    as_nobody = (setpriv, "--reuid=nobody", "--regid=nogroup", f"--groups={group}")
    # through a shell: setpriv's own exec may still resolve paths with root's capabilities
    check = [*as_nobody, *NO_CAPABILITIES, "/bin/sh", "-c", f"exec '{script}' show any.service"]
    if subprocess.run(check, capture_output=True, timeout=60, check=False).returncode == 0:
        return (*as_nobody, *NO_CAPABILITIES)
    return (setpriv, "--reuid=0", "--regid=0", f"--groups={group}", *NO_CAPABILITIES)


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory every user may enter (pytest's own tmp directories are root's, 0700)."""
    if os.geteuid() != 0:
        pytest.skip(
            "dropping the exporter's privileges needs root; unprivileged, the tests would "
            "own the data the exporter must not be able to write"
        )
    path = Path(tempfile.mkdtemp(prefix="registry-monitor-unprivileged-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def own(path: Path, uid: int, gid: int, dirs: int, files: int) -> None:
    for root, dirnames, filenames in os.walk(path):
        os.chown(root, uid, gid)
        os.chmod(root, dirs)
        for name in filenames:
            os.chown(os.path.join(root, name), uid, gid)
            os.chmod(os.path.join(root, name), files)
        del dirnames[:0]


def test_exporter_without_privileges_or_write_access(base: Path, ca: trustme.CA) -> None:
    uid, gid, user = registry_ids()
    data = base / "srv"
    cert = issue(ca, base / "live", NAME, days=60)
    cert.cert.chmod(0o644)
    private = base / "private"  # what needs more: a file in a directory only its owner enters
    private.mkdir()
    shutil.copy(cert.cert, private / "server.crt")
    shutil.copy(cert.key, private / "server.key")  # nginx's key: root's alone on a real host
    systemd = FakeSystemd(base / "systemd")
    systemd.set_unit("docker-registry.service")
    systemd.set_unit("nginx.service")
    systemd.set_unit("rsync.service")
    wrapper = drop_privileges(gid, systemd.systemctl)  # a script as registry-exporter is
    stop: list[Registry | Exporter] = []
    try:
        backend = Registry(base / "backend", data_dir=data).start()
        stop.append(backend)
        public = Registry(base / "public", data_dir=data, tls=(cert.cert, cert.key)).start()
        stop.append(public)
        Pusher(backend.url).push_image(*CANARY.split(":"))
        own(data, uid, gid, 0o750, 0o640)  # the registry's files: its group may read
        own(private, uid, gid, 0o700, 0o600)
        state = base / "state"
        state.mkdir()
        own(state, uid, gid, 0o750, 0o640)
        denied = subprocess.run(
            [*wrapper, "touch", str(data / "docker" / "written")], capture_output=True, check=False
        )
        assert denied.returncode != 0  # the set-up holds: no write access to the data

        config = {
            "node": "tools-docker-registry-03",
            "role": "active",
            "data_dir": str(data),
            "backend_url": backend.url,
            "public_url": f"https://{NAME}",
            "public_connect": f"127.0.0.1:{public.port}",
            "ca_file": str(write_ca(ca, base / "ca.pem")),
            "cert_file": str(private / "server.crt"),
            "cert_key_file": str(private / "server.key"),
            "canary_images": [CANARY],
            "registry_user": user,
            "state_dir": str(state),
        }
        env = {
            "PATH": f"{systemd.bin_dir}{os.pathsep}{os.environ['PATH']}",
            **systemd.env,
        }
        exporter = Exporter(base / "exporter", config, env=env, wrapper=wrapper)
        stop.append(exporter)
        exporter.start(wait_for=("disk", "services", "api", "cert", "write", "storage"))
        assert exporter.daemon.proc is not None
        status = Path(f"/proc/{exporter.daemon.proc.pid}/status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["CapEff"].strip() == fields["CapPrm"].strip() == "0000000000000000"
        assert fields["NoNewPrivs"].strip() == "1"
        assert str(gid) in fields["Groups"].split()

        text = exporter.metrics_text()
        for probe in ("disk", "services", "api", "write", "storage"):
            assert value(text, "registry_monitor_probe_success", probe=probe) == 1, (
                exporter.probe_status(probe)
            )
        for endpoint in ("backend", "public"):
            assert value(text, "registry_monitor_api_up", endpoint=endpoint) == 1
            assert value(text, "registry_monitor_manifest_up", endpoint=endpoint, image=CANARY) == 1
        assert value(text, "registry_monitor_write_up", endpoint="backend") == 1
        assert value(text, "registry_monitor_storage_tags") == 1
        assert value(text, "registry_monitor_storage_dangling_references") == 0
        assert value(text, "registry_monitor_storage_blob_verify_failures_total") == 0
        verified = value(text, "registry_monitor_storage_blob_verified_bytes_total")
        assert verified is not None and verified > 0  # blob content read through the group

        # the certificate file it may not read: an error reading, the served one still there
        assert value(text, "registry_monitor_probe_success", probe="cert") == 0
        assert exporter.probe_status("cert")["error"] == (
            f"file {private / 'server.crt'}: cannot read: Permission denied"
        )
        assert (
            value(text, "registry_monitor_cert_valid", source="served", target=f"{NAME}:443") == 1
        )
        assert (
            value(
                text,
                "registry_monitor_cert_valid",
                source="file",
                target=str(private / "server.crt"),
            )
            is None
        )
        # the key it may not read: its own state, never a mismatch
        key = str(private / "server.key")
        assert value(text, "registry_monitor_cert_key_readable", target=key) == 0
        assert value(text, "registry_monitor_cert_key_matches", target=key) is None
        exporter.stop()
        assert "Traceback" not in (base / "exporter" / "exporter.log").read_text()
        assert not (data / "docker" / "written").exists()
    finally:
        for daemon in reversed(stop):
            daemon.stop()
