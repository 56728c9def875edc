"""The shipped Icinga 2 definitions, loaded and run by the real Icinga 2 (icinga2-bin)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from registry_monitor import probe_catalog
from testbed.icinga2 import Icinga2
from testbed.waiting import wait_until
from tests.support.perfdata import parse_output

REPO = Path(__file__).resolve().parent.parent
DEFINITIONS = REPO / "icinga2" / "registry-monitor.conf"
BIN = Path(sys.executable).parent  # where the venv installed check_registry
PROBES = (*probe_catalog.NAMES, "all", "failover")


def config(plugin_dir: Path, hosts: str, extra: str = "") -> str:
    return (
        f'const PluginDir = "{plugin_dir}"\n'
        "include <itl>\n"
        "include <plugins>\n"
        f'include "{DEFINITIONS}"\n'
        f"{hosts}\n{extra}\n"
    )


HOSTS = """
object Host "registry-03" {
  check_command = "dummy"
  vars.registry_role = "active"
  vars.registry_config = "/etc/registry-monitor/config.yaml"
  vars.registry_timeout = 15
  vars.registry_traffic = true
}
object Host "registry-04" {
  check_command = "dummy"
  zone = "master"
  vars.registry_role = "standby"
  vars.registry_agent_endpoint = "registry-04"
}
object Endpoint NodeName { }
object Zone "master" { endpoints = [ NodeName ] }
object Endpoint "registry-04" { }
object Zone "registry-04" { endpoints = [ "registry-04" ]; parent = "master" }
object Host "unrelated" { check_command = "dummy" }
"""


@pytest.fixture
def validated(tmp_path: Path) -> Icinga2:
    icinga = Icinga2(tmp_path / "icinga2", config(Path("/usr/lib/nagios/plugins"), HOSTS))
    done = icinga.validate()
    assert done.returncode == 0, done.stdout + done.stderr
    return icinga


def test_one_check_command_per_probe(validated: Icinga2) -> None:
    commands = validated.objects("CheckCommand")
    for probe in PROBES:
        command = commands[f"registry_{probe}"]
        assert command["command"] == ["/usr/lib/nagios/plugins/check_registry", probe]
        arguments = command["arguments"]
        mapped = {k: v.get("value", v.get("set_if")) for k, v in arguments.items()}
        common = {
            "--config": "$registry_config$",
            "-w": "$registry_warning$",
            "-c": "$registry_critical$",
            "-t": "$registry_timeout$",
            "-v": "$registry_verbose$",
        }
        assert {k: mapped.get(k) for k in common} == common
        assert command["vars"] == {"registry_verbose": True}
    assert commands["registry_traffic"]["arguments"]["--minutes"]["value"] == (
        "$registry_traffic_minutes$"
    )
    disk = commands["registry_disk"]["arguments"]
    assert (disk["-W"]["value"], disk["-K"]["value"], disk["--unit"]["value"]) == (
        "$registry_inode_warning$",
        "$registry_inode_critical$",
        "$registry_disk_unit$",
    )


def test_apply_rules_follow_the_role(validated: Icinga2) -> None:
    services = validated.objects("Service")
    by_host: dict[str, set[str]] = {}
    for props in services.values():
        by_host.setdefault(props["host_name"], set()).add(props["check_command"])
    assert by_host == {
        "registry-03": {
            "registry_disk",
            "registry_services",
            "registry_api",
            "registry_cert",
            "registry_write",
            "registry_storage",
            "registry_traffic",
            "registry_sync",  # the active must not sync
            "registry_pull",
        },
        "registry-04": {
            "registry_disk",
            "registry_services",
            "registry_api",
            "registry_cert",
            "registry_storage",
            "registry_sync",
            "registry_standby",
            "registry_pull",
            "registry_failover",
        },
    }
    active_disk = services["registry-03!registry-disk"]
    assert active_disk["vars"] == {
        "registry_config": "/etc/registry-monitor/config.yaml",
        "registry_timeout": 15,
    }
    assert active_disk["command_endpoint"] == ""
    assert services["registry-04!registry-api"]["command_endpoint"] == "registry-04"
    assert services["registry-03!registry-cert"]["check_interval"] == 3600
    # the tree-reading checks get a longer bound than the host's, still below Icinga's 60 s
    assert services["registry-04!registry-standby"]["vars"]["registry_timeout"] == 50
    assert services["registry-04!registry-standby"]["check_interval"] == 300


def test_validation_refuses_a_broken_definition(tmp_path: Path) -> None:
    """The harness can fail: a service on a command that does not exist is refused."""
    broken = 'apply Service "x" { check_command = "registry_dsk"; assign where true }'
    icinga = Icinga2(tmp_path / "icinga2", config(Path("/usr/lib/nagios/plugins"), HOSTS, broken))
    done = icinga.validate()
    assert done.returncode != 0
    assert "registry_dsk" in done.stdout  # the command it refused, in Icinga's own words


@pytest.fixture
def running(tmp_path: Path, registry_node: dict[str, object]) -> Iterator[tuple[Icinga2, Path]]:
    """Icinga 2 itself running the checks of a healthy active registry node."""
    node_config = tmp_path / "registry-monitor.yaml"
    node_config.write_text(yaml.safe_dump(registry_node))
    hosts = f"""
object Host "registry-03" {{
  check_command = "dummy"
  enable_active_checks = false
  vars.registry_role = "active"
  vars.registry_config = "{node_config}"
  vars.registry_timeout = 20
}}
"""
    icinga = Icinga2(tmp_path / "icinga2", config(BIN, hosts)).start()
    try:
        yield icinga, node_config
    finally:
        icinga.stop()


def test_icinga_runs_every_check(running: tuple[Icinga2, Path]) -> None:
    icinga, node_config = running
    services = ["disk", "services", "api", "cert", "write"]
    for name in services:
        icinga.command(f"SCHEDULE_FORCED_SVC_CHECK;registry-03;registry-{name};$now")
    wanted = {f"registry-03!registry-{name}" for name in services}
    wait_until(lambda: wanted <= icinga.results_written(), 60, "Icinga 2 to run the checks")
    icinga.stop()
    results = icinga.check_results()
    for name in services:
        result = results[f"registry-03!registry-{name}"]
        # the command line Icinga built from the definitions and the host's variables
        assert result["command"] == [
            str(BIN / "check_registry"),
            name,
            "--config",
            str(node_config),
            "-t",
            "20",
            "-v",
        ]
        assert (result["exit_status"], result["state"]) == (0, 0), result["output"]
        # Icinga split off the perfdata and kept the status line and long output
        output = parse_output(result["output"] + "\n", 0)
        assert output.probe == name.upper()
        assert output.perfdata == {}
        assert output.long and all(line.startswith("[OK] ") for line in output.long)
        assert result["performance_data"], name
        assert all("=" in item for item in result["performance_data"])
