"""The failover judgement over readings: storage, pull and cert read from a real registry
node (nginx, TLS); standby, parity, sync and disk given as the figures each case needs
(a disk's size cannot depend on the test machine's)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.config.validation import parse_config
from registry_monitor.judging.readiness import REASONS, Blocker, assess_readiness, headline
from registry_monitor.probes import build_probe
from registry_monitor.probes.disk import DiskUsage
from registry_monitor.probes.parity import NodeDescription, ParityStatus
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.standby import StandbyStatus
from registry_monitor.probes.sync import SyncStatus

GiB = 2**30
NOW = 1_780_000_000.0


def reading(name: str, value: Any, error: str | None = None) -> Reading[Any]:
    return Reading(name, NOW, 0.1, value, error)


def standby(lag: float = 0.0, missing: int = 0, examples: tuple[str, ...] = ()) -> StandbyStatus:
    return StandbyStatus(
        active_url="http://active:9623/api/inventory",
        active_node="registry-03",
        response="200",
        inventory_generated_at=NOW,
        inventory_age_seconds=1.0,
        in_step=missing == 0,
        lag_seconds=lag,
        missing_repositories=0,
        missing_tags=missing,
        mismatched_tags=0,
        missing_blobs=0,
        oldest_missing_tag=examples[0].split()[0] if examples else None,
        examples=examples,
        local_dangling_references=0,
        divergent_tags=0,
        divergent_repositories=0,
        divergent_examples=(),
        divergent_since=None,
    )


def sync(running: bool = False) -> SyncStatus:
    return SyncStatus(
        unit="rsync-docker-registry-sync.service",
        timer="rsync-docker-registry-sync.timer",
        role="standby",
        load_state="loaded",
        active_state="activating" if running else "inactive",
        sub_state="start" if running else "dead",
        result="success",
        running=running,
        timer_active=True,
        timer_state="active",
        last_run_started=NOW - 60,
        last_exit_code=0,
        last_exit_meaning="success",
        last_exit_at=NOW - 30,
        last_success=NOW - 30,
        last_success_started=NOW - 60,
        last_duration_seconds=30,
        timer_period_seconds=600,
        state_note=None,
    )


def disk(used_gib: float, avail_gib: float) -> DiskUsage:
    return DiskUsage(
        path="/srv/registry",
        mountpoint="/srv",
        device="/dev/vdb",
        fstype="ext4",
        size_bytes=int((used_gib + avail_gib) * GiB),
        avail_bytes=int(avail_gib * GiB),
        free_bytes=int(avail_gib * GiB),
        files=1000,
        files_free=900,
        readonly=False,
    )


def parity(active_blob_bytes: int | None) -> ParityStatus:
    me = NodeDescription("registry-04", "standby", NOW, ())
    them = NodeDescription("registry-03", "active", NOW, ())
    return ParityStatus(me, them, (), active_blob_bytes)


@pytest.fixture
def measured(registry_node: dict[str, object]) -> tuple[Config, dict[str, Reading[Any]]]:
    """storage, pull and cert as a healthy standby node measures them."""
    config = parse_config({**registry_node, "role": "standby"})
    found = {
        name: run_probe(build_probe(name, config), Deadline(30))
        for name in ("storage", "pull", "cert")
    }
    for name, r in found.items():
        assert r.ok, (name, r.error)
    return config, found


def readings(measured: tuple[Config, dict[str, Reading[Any]]], **given: Any) -> dict[str, Any]:
    _, found = measured
    defaults = {
        "standby": reading("standby", standby()),
        "parity": reading("parity", parity(None)),
        "sync": reading("sync", sync()),
        "disk": reading("disk", disk(10, 90)),
    }
    return {**found, **defaults, **given}


def test_ready(measured: tuple[Config, dict[str, Reading[Any]]]) -> None:
    config, _ = measured
    r = assess_readiness(config, readings(measured), NOW)
    assert (r.ready, r.blockers, r.lost_tags, r.lag_seconds) == (True, (), 0, 0.0)
    assert headline(r) == "ready: a failover now loses 0 tags (lag 0s)"
    assert r.notes == ("the active's content size is unknown: disk judged as it is",)


def test_lost_tags_and_since_when(measured: tuple[Config, dict[str, Reading[Any]]]) -> None:
    config, _ = measured
    lost = standby(lag=1500, missing=2, examples=("a:v1 missing", "b:v2 missing"))
    r = assess_readiness(config, readings(measured, standby=reading("standby", lost)), NOW)
    since = time.strftime("%H:%M UTC", time.gmtime(NOW - 1500))
    assert headline(r) == f"ready: a failover now loses 2 tags pushed since {since} (lag 1500s)"
    assert r.lost_examples == ("a:v1 missing", "b:v2 missing")


def test_lag_over_critical(measured: tuple[Config, dict[str, Reading[Any]]]) -> None:
    config, _ = measured
    late = reading("standby", standby(lag=3700, missing=5))
    r = assess_readiness(config, readings(measured, standby=late), NOW)
    assert r.blockers == (
        Blocker("lag_over_critical", "lag 3700s is over 3600s: 5 tags would be lost"),
    )


def test_disk_that_could_not_take_the_active_content(
    measured: tuple[Config, dict[str, Reading[Any]]],
) -> None:
    """85 of 100 GiB used; the active holds 10 GiB more than this node: 95 % > 90 %."""
    config, found = measured
    here = found["storage"].value.scan.blob_bytes
    r = assess_readiness(
        config,
        readings(
            measured,
            disk=reading("disk", disk(85, 15)),
            parity=reading("parity", parity(here + 10 * GiB)),
        ),
        NOW,
    )
    assert r.blockers == (
        Blocker(
            "disk_too_small",
            "with the active's content (10.0 GiB more) the disk would be 95.0% used, "
            "over the 90% critical level",
        ),
    )
    # with room for it: ready
    roomy = readings(
        measured,
        disk=reading("disk", disk(75, 25)),
        parity=reading("parity", parity(here + 10 * GiB)),
    )
    assert assess_readiness(config, roomy, NOW).ready


def test_nothing_measured_blocks_under_every_reason(
    measured: tuple[Config, dict[str, Reading[Any]]],
) -> None:
    config, _ = measured
    r = assess_readiness(config, {}, NOW)
    assert r.ready is False
    assert [b.reason for b in r.blockers] == [
        "standby_not_compared",
        "dangling_references",
        "foreign_owner_files",
        "pull_failing",
        "parity_mismatch",
        "cert_invalid",
        "sync_running",
        "disk_too_small",
    ]
    assert r.blockers[0].detail == (
        "the comparison with the active did not run: the standby probe has not run"
    )
    assert set(r.reasons) <= set(REASONS)
    failed = assess_readiness(
        config,
        readings(measured, standby=reading("standby", None, "active exporter unreachable")),
        NOW,
    )
    assert failed.blockers == (
        Blocker(
            "standby_not_compared",
            "the comparison with the active did not run: "
            "the standby probe failed: active exporter unreachable",
        ),
    )
    assert (failed.lost_tags, headline(failed).startswith("not ready: standby_not_compared")) == (
        None,
        True,
    )


def test_running_sync_and_a_key_of_another_certificate(
    registry_node: dict[str, object], tmp_path: Path, ca: Any
) -> None:
    from testbed.certs import issue

    other = issue(ca, tmp_path / "other", "registry.test")
    config = parse_config({**registry_node, "role": "standby", "cert_key_file": str(other.key)})
    found = {
        name: run_probe(build_probe(name, config), Deadline(30))
        for name in ("storage", "pull", "cert")
    }
    given = {
        **found,
        "standby": reading("standby", standby()),
        "parity": reading("parity", parity(None)),
        "sync": reading("sync", sync(running=True)),
        "disk": reading("disk", disk(10, 90)),
    }
    r = assess_readiness(config, given, NOW)
    assert r.blockers == (
        Blocker("cert_key_mismatch", f"key {other.key} does not match the certificate"),
        Blocker(
            "sync_running",
            "rsync-docker-registry-sync.service is running: let it finish, then look again",
        ),
    )
