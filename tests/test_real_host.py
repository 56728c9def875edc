"""One real host: a bookworm container booted with systemd, laid out as puppet renders the
active (testbed/puppet_hosts.py), the project's .deb installed and its hardened unit
started by systemd. Every probe that talks to systemd reads the real one here, through
D-Bus from inside the unit's sandbox (the fake systemctl is for the fast tests)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import installed, puppet_hosts
from testbed.realhost import Host
from tests.support.realhosts import TOKEN, RealNode, booted, deb  # noqa: F401

# a host boots, installs and starts in about a minute; more on a loaded machine
pytestmark = [pytest.mark.realhost, pytest.mark.timeout(900)]

CANARY = "toolforge-python311-sssd-base:latest"
PUBLIC_URL = f"https://{puppet_hosts.PUBLIC_NAME}"
ROOT = Path(__file__).resolve().parent.parent


def push(host: Host, image: str, url: str = "http://127.0.0.1:5000") -> None:
    """A push from inside the host's network with this tree's pusher (testbed/images.py)."""
    repository, tag = image.split(":")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from testbed.images import Pusher; "
        "Pusher(sys.argv[2]).push_image(sys.argv[3], sys.argv[4])"
    )
    subprocess.run(
        host.in_network([sys.executable, "-c", code, str(ROOT), url, repository, tag]),
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def active(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNode]:  # noqa: F811
    with booted(tmp_path_factory.mktemp("realhost"), deb, ("active",)) as (node,):
        push(node.host, CANARY)
        installed.configure(node.host, node.config)
        installed.wait_for_readings(
            node.host, ("disk", "services", "api", "cert", "write", "storage", "sync", "parity")
        )
        yield node


def test_the_hardened_unit_runs_under_systemd(active: RealNode) -> None:
    unit = active.host.show(
        "registry-exporter.service", "ActiveState", "SubState", "User", "ProtectSystem"
    )
    assert unit == {
        "ActiveState": "active",
        "SubState": "running",
        "User": "registry-monitor",
        "ProtectSystem": "strict",
    }
    # Documentation= names the manual pages the package installed
    for page in ("registry-exporter", "check_registry"):
        assert (active.host.root / f"usr/share/man/man1/{page}.1.gz").is_file()


def test_services_read_through_dbus_from_inside_the_sandbox(active: RealNode) -> None:
    services = installed.probes_of(active.status())["services"]
    assert (services["state"], services["ok"]) == ("OK", True)
    units = [line for line in services["reasons"] if not line.startswith("- ")]
    assert [line.split(" (running)")[0] for line in units] == [
        "[OK] docker-registry.service active",
        "[OK] nginx.service active",
        "[OK] rsync.service active",
    ]


def test_the_active_has_no_sync_unit_and_says_so(active: RealNode) -> None:
    sync = installed.probes_of(active.status())["sync"]
    assert (sync["state"], sync["ok"]) == ("OK", True)
    assert sync["reasons"][0] == (
        "[OK] rsync-docker-registry-sync.service not installed, as it should be on the active"
    )


def not_ok(node: RealNode) -> dict[str, tuple[str, str]]:
    return {
        name: (p["state"], p["summary"])
        for name, p in installed.probes_of(node.status()).items()
        if p["state"] != "OK"
    }


def test_a_healthy_active_is_ok_without_permission_warnings(active: RealNode) -> None:
    """The documented grants (puppet's key_group, the unit's www-data drop-in) make the
    certificate, key, htpasswd and config readable."""
    _, text = active.check("all", "-v")
    assert not_ok(active) == {}
    assert "not readable" not in text and "Permission denied" not in text, text
    page = installed.api_status(active.host, "/")
    assert "Permission denied" not in page and "not readable" not in page


def test_a_healthy_active_is_ok_everywhere(active: RealNode) -> None:
    """disk included: judged on the filesystem, not the read-only bind of /srv/registry the
    unit's ProtectSystem=strict and ReadOnlyPaths= make."""
    code, text = active.check("all")
    assert not_ok(active) == {}
    assert (code, installed.api_status(active.host, token=TOKEN)["state"]) == (0, "OK"), text


def test_anonymous_pushes_refused_until_limit_except_is_gone(active: RealNode) -> None:
    """The api check through the public name on the site puppet renders, then on the site
    with limit_except removed (the fault), then restored."""
    refused = f"[OK] public {PUBLIC_URL}: anonymous push refused (HTTP 401)"
    code, text = active.check("api", "-v")
    assert (code, refused in text.splitlines()) == (0, True), text
    puppet_hosts.write_site(active.host, push_open=True)
    active.host.systemctl("reload", "nginx.service")
    try:
        code, text = active.check("api")
        assert (code, text.split(" | ")[0]) == (
            2,
            f"REGISTRY API CRITICAL - public {PUBLIC_URL}: an anonymous push was accepted "
            "(HTTP 202; the upload it opened cancelled): anyone can write to the registry; "
            "nginx's limit_except is missing",
        )
    finally:
        puppet_hosts.write_site(active.host)
        active.host.systemctl("reload", "nginx.service")
    assert active.check("api")[0] == 0
