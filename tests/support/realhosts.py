"""Fixtures' helpers for the real-host tests: a host booted, laid out as puppet renders
it, the package installed and configured as the docs say (testbed/realhost.py,
testbed/puppet_hosts.py, testbed/installed.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from testbed import installed, puppet_hosts, rootfs
from testbed.realhost import Host, Network

ACTIVE = "tools-docker-registry-03"
STANDBY = "tools-docker-registry-04"
TOKEN = "real-host-test-token-0123456789abcdef"
CA_FILE = "/etc/registry-monitor/test-ca.pem"
# deploy/registry-exporter.service's SupplementaryGroups, the drop-in's www-data, and the
# group puppet's key_group gives the certificate tree (its own: registry-monitor)
UNIT_GROUPS = ("registry-monitor", "docker-registry", "adm", "www-data")


def require_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("real hosts need root (debootstrap, systemd-nspawn, network namespaces)")
    missing = rootfs.missing_tools()
    if missing:
        pytest.skip(f"real hosts need {', '.join(missing)} (make deps installs them)")


@pytest.fixture(scope="session")
def deb() -> Path:
    """The package every real host installs, built once per session (testbed/installed.py)."""
    require_root_and_tools()
    return installed.built_package()


@dataclass
class RealNode:
    host: Host
    role: str
    address: str
    config: dict[str, Any]

    def check(self, *args: str) -> tuple[int, str]:
        """check_registry with the exporter unit's user and groups (the package's unit and
        the documented www-data drop-in); for Icinga's user the same groups are needed."""
        run = self.host.run(
            [
                "setpriv",
                "--reuid=registry-monitor",
                "--regid=registry-monitor",
                f"--groups={','.join(UNIT_GROUPS)}",
                "--inh-caps=-all",
                "--",
                "check_registry",
                *args,
            ],
            check=False,
            timeout=180,
        )
        return run.returncode, run.stdout.strip()

    def status(self) -> Any:
        return installed.api_status(self.host, token=TOKEN)


def documented_grants(host: Host) -> None:
    """docs/configuration.md's steps that need no hand edit of a puppet file: the
    exporter's unit joins www-data for htpasswd.registry (a drop-in on our own unit); the
    certificate tree's group is puppet's key_group (given to lay_out)."""
    host.write(
        "/etc/systemd/system/registry-exporter.service.d/htpasswd.conf",
        "[Service]\nSupplementaryGroups=www-data\n",
    )
    host.systemctl("daemon-reload")


@contextlib.contextmanager
def booted(
    workdir: Path, deb: Path, roles: tuple[str, ...], **own: Any
) -> Iterator[list[RealNode]]:
    """Hosts of these roles on one private network, each laid out, installed, started."""
    network = Network.make(len(roles))
    hosts: list[Host] = []
    try:
        ca = trustme.CA()
        given = puppet_hosts.PairSecrets.make(ca, workdir)
        names = {"active": ACTIVE, "standby": STANDBY}
        addresses = network.addresses or ["127.0.0.1"] * len(roles)
        peers = (
            {names[r]: a for r, a in zip(roles, addresses, strict=True)}
            if network.addresses
            else {}
        )
        nodes = []
        for i, role in enumerate(roles):
            host = Host.boot(names[role], workdir / role, network.path(i))
            hosts.append(host)
            installed.install(host, deb)
            node = puppet_hosts.Node(host, role, addresses[i])
            puppet_hosts.lay_out(
                node,
                given,
                peers=peers,
                active=ACTIVE,
                standby=STANDBY,
                key_group="registry-monitor",
            )
            host.write(CA_FILE, ca.cert_pem.bytes(), owner="root:registry-monitor", mode=0o640)
            documented_grants(host)
            values: dict[str, Any] = {
                "node": names[role],
                "ca_file": CA_FILE,
                "api_token": TOKEN,
                **own.get(role, {}),
            }
            if role == "standby":
                values["active_exporter_url"] = f"http://{ACTIVE}:9623"
            config = installed.example_config(role, **values)
            nodes.append(RealNode(host, role, addresses[i], config))
        yield nodes
    finally:
        for host in hosts:
            host.stop()
        network.close()
