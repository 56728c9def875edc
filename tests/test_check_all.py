"""check_registry all: every probe of the node's role, the worst state, every problem named."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import pytest

from registry_monitor.config import Config
from registry_monitor.judging.state import State, worst
from testbed.systemd import FakeSystemd
from tests.conftest import CANARY_IMAGE
from tests.support.check import run_check, write_config

GONE = "cert: {}: cannot read: " + os.strerror(errno.ENOENT)
ACTIVE_PROBES = "9 probes OK (disk, services, api, cert, write, storage, sync, pull, parity)"


def test_monitoring_plugins_order() -> None:
    """OK < UNKNOWN < WARNING < CRITICAL: an UNKNOWN never masks a known problem."""
    assert worst([State.UNKNOWN, State.CRITICAL]) is State.CRITICAL
    assert worst([State.WARNING, State.UNKNOWN]) is State.WARNING
    assert worst([State.OK, State.UNKNOWN]) is State.UNKNOWN
    assert worst([State.OK, State.OK]) is State.OK
    assert worst([]) is State.OK


def test_healthy_active_node(registry_node: dict[str, object], tmp_path: Path) -> None:
    run = run_check(write_config(tmp_path / "c.yaml", registry_node), "all", "-v")
    assert (run.exit_code, run.state, run.text) == (0, "OK", ACTIVE_PROBES)
    probes = [line.split(" ")[1].rstrip(":") for line in run.long]
    assert sorted(set(probes), key=probes.index) == [
        "disk",
        "services",
        "api",
        "cert",
        "write",
        "storage",
        "sync",
        "pull",
        "parity",
    ]
    assert [line for line in run.long if not line.startswith("[OK] ")] == []
    for label in ("used_percent", "active_nginx.service", "public_latency", "served_days_left"):
        assert label in run.output.perfdata
    assert run.perf("write_up").value == 1


def test_a_critical_is_not_masked_by_an_unknown(
    registry_node: dict[str, object], tmp_path: Path, systemd: FakeSystemd
) -> None:
    systemd.set_unit("nginx.service", "failed")
    node = {**registry_node, "cert_file": str(tmp_path / "gone.crt")}  # cert: UNKNOWN
    run = run_check(write_config(tmp_path / "c.yaml", node), "all")
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"services: nginx.service failed (failed); {GONE.format(tmp_path / 'gone.crt')}",
    )


def test_every_problem_is_summarised_worst_first(
    registry_node: dict[str, object], tmp_path: Path, systemd: FakeSystemd
) -> None:
    systemd.set_unit("docker-registry.service", "inactive")
    node = {**registry_node, "canary_images": [CANARY_IMAGE, "gone:v1"]}
    run = run_check(write_config(tmp_path / "c.yaml", node), "all")
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text == (
        "services: docker-registry.service inactive (dead); "
        "api: backend canary gone:v1 missing (not found); "
        "api: public canary gone:v1 missing (not found); "
        "pull: canary gone:v1 not pulled: manifest v1: not found"
    )


def test_a_warning_outranks_an_unknown(registry_node: dict[str, object], tmp_path: Path) -> None:
    node = {**registry_node, "canary_images": ["gone:v1"], "cert_file": str(tmp_path / "gone.crt")}
    run = run_check(write_config(tmp_path / "c.yaml", node), "all")
    assert (run.exit_code, run.state) == (1, "WARNING")
    assert run.text.endswith(
        "api: public canary gone:v1 missing (not found); "
        f"pull: canary gone:v1 not pulled: manifest v1: not found; {GONE.format(tmp_path / 'gone.crt')}"
    )


def test_standby_runs_its_own_probes(registry_node: dict[str, object], tmp_path: Path) -> None:
    node = {**registry_node, "role": "standby"}
    run = run_check(write_config(tmp_path / "c.yaml", node), "all", "-v")
    assert (run.exit_code, run.text) == (
        2,
        "sync: rsync-docker-registry-sync.service not-found: no sync can run; "
        "standby: active_exporter_url is not set: nothing to compare with; "
        "parity: active_exporter_url is not set: nothing to compare with",
    )
    probes = {line.split(" ")[1].rstrip(":") for line in run.long}
    assert probes == {
        "disk",
        "services",
        "api",
        "cert",
        "storage",
        "sync",
        "standby",
        "pull",
        "parity",
    }
    assert "write_up" not in run.output.perfdata


def test_all_takes_thresholds_only_from_the_config(tmp_path: Path) -> None:
    run = run_check(write_config(tmp_path / "c.yaml", {}), "all", "-w", "10")
    assert (run.exit_code, run.text) == (
        3,
        "-w/-c/-W/-K/--unit apply to one probe; `all` takes its thresholds from the config "
        "(see check_registry --help)",
    )


def test_a_probe_failing_inside_the_plugin_is_its_own_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each probe is built in its own thread: a failure there is that probe's reading,
    never a lost probe, a traceback on stderr or a hang for the others."""
    from checks import collect

    real = collect.prepare

    def prepare(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "services":
            raise RuntimeError("broken")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(collect, "prepare", prepare)
    config = Config(node="n", data_dir=tmp_path, services=())
    # the failing probe first: the ones after it must still get their turn to build
    done = collect.collect(("services", "disk"), config, time.monotonic() + 10)
    assert done.running == ()
    assert (done.readings["disk"].ok, done.readings["services"].error) == (
        True,
        "internal error: RuntimeError('broken')",
    )
