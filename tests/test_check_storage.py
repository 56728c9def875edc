"""check_registry storage on a real registry's data directory."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from testbed.images import Pushed, Pusher
from testbed.registry import Registry
from tests.support.check import run_check, run_raw, write_config

REPO = "toolforge/python311"


@pytest.fixture
def pushed(registry: Registry) -> Pushed:
    return Pusher(registry.url).push_image(REPO, "latest")


def config(tmp_path: Path, registry: Registry, **extra: Any) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "data_dir": str(registry.data_dir),
            "registry_user": getpass.getuser(),
            "state_dir": str(tmp_path / "state"),
            **extra,
        },
    )


def blob_dir(registry: Registry, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return registry.v2 / "blobs" / "sha256" / hexd[:2] / hexd


def test_healthy_storage_is_ok_with_its_figures(
    registry: Registry, pushed: Pushed, tmp_path: Path
) -> None:
    run = run_check(config(tmp_path, registry), "storage", "-v")
    size = sum(p.stat().st_size for p in (registry.v2 / "blobs").rglob("data"))
    assert (run.exit_code, run.state) == (0, "OK")
    assert run.text.startswith(
        f"1 repositories, 1 tags, 3 blobs ({size / 2**30:.2f} GiB), last push "
    )
    assert (
        run.long[0] == f"[OK] 1 repositories, 1 tags, 1 manifests, 3 blobs ({size / 2**30:.2f} GiB)"
    )
    assert run.long[1].startswith("[OK] last push ")
    figures = {k: run.perf(k).value for k in ("repositories", "tags", "blobs", "blob_bytes")}
    assert figures == {"repositories": 1, "tags": 1, "blobs": 3, "blob_bytes": size}
    dangling = run.perf("dangling_references")
    assert (dangling.value, dangling.warn, dangling.crit) == (0, "", "0")
    assert (run.perf("uploads_stale").value, run.perf("uploads_stale").warn) == (0, "0")
    assert run.perf("verify_failures").value == 0
    assert run.perf("foreign_owner_files").value == 0


def test_dangling_references_are_critical_and_named(
    registry: Registry, pushed: Pushed, tmp_path: Path
) -> None:
    layer = pushed.blobs[1]
    shutil.rmtree(blob_dir(registry, layer))
    run = run_check(config(tmp_path, registry), "storage", "-v")
    why = f"blob {layer} of manifest {pushed.digest} missing"
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        "2 dangling references (critical > 0)",
    )
    at = run.long.index("[CRITICAL] 2 dangling references (critical > 0)")
    assert run.long[at + 1 : at + 3] == [
        f"- {REPO}:latest: {why}",
        f"- {REPO}@{pushed.digest}: {why}",
    ]
    assert run.perf("dangling_references").value == 2
    # -c sets how many an operator tolerates (a standby mid-sync, say)
    tolerant = run_check(config(tmp_path, registry), "storage", "-w", "1", "-c", "5")
    assert (tolerant.exit_code, tolerant.text) == (1, "2 dangling references (warning > 1)")


def test_stale_upload_is_a_warning(registry: Registry, pushed: Pushed, tmp_path: Path) -> None:
    uploads = (
        registry.v2 / "repositories" / REPO / "_uploads" / "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    )
    uploads.mkdir(parents=True)
    eight_days_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 8 * 86400))
    (uploads / "startedat").write_text(eight_days_ago)
    run = run_check(config(tmp_path, registry), "storage")
    assert (run.exit_code, run.text) == (1, "1 stale uploads (older than the purge age)")
    assert run.perf("uploads_stale").value == 1


def test_corrupt_blob_is_critical(registry: Registry, pushed: Pushed, tmp_path: Path) -> None:
    data = blob_dir(registry, pushed.blobs[1]) / "data"
    data.write_bytes(b"X" * data.stat().st_size)
    run = run_check(config(tmp_path, registry), "storage", "-v")
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        "1 blobs fail their sha256 check",
    )
    at = run.long.index("[CRITICAL] 1 blobs fail their sha256 check")
    assert run.long[at + 1].startswith(f"- {pushed.blobs[1]}: content hashes to sha256:")
    assert run.perf("verify_failures").value == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_files_of_another_owner_are_a_warning(
    registry: Registry, pushed: Pushed, tmp_path: Path
) -> None:
    link = (
        registry.v2 / "repositories" / REPO / "_manifests" / "tags" / "latest" / "current" / "link"
    )
    os.chown(link, 54321, 54321)
    run = run_check(config(tmp_path, registry), "storage", "-v")
    rel = link.relative_to(registry.data_dir)
    assert (run.exit_code, run.text) == (1, f"1 files not owned by {getpass.getuser()}")
    at = run.long.index(f"[WARNING] 1 files not owned by {getpass.getuser()}")
    assert run.long[at + 1] == f"- {rel} (uid 54321)"


def test_missing_data_dir_is_unknown(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", {"data_dir": str(tmp_path / "nope")})
    run = run_check(cfg, "storage")
    assert (run.exit_code, run.text) == (3, f"data directory {tmp_path / 'nope'} does not exist")


def test_storage_takes_no_inode_thresholds(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", {"data_dir": str(tmp_path)})
    run = run_check(cfg, "storage", "-K", "5")
    assert (run.exit_code, run.text) == (
        3,
        "storage does not take -K: -w/-c are the count of dangling references "
        "(see check_registry --help)",
    )


def test_check_never_writes_the_inventory_wire_form(
    registry: Registry, pushed: Pushed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the exporter serves the inventory; the check must not pay for writing it."""
    from checks.plugin import run
    from registry_monitor.storage import inventory_wire

    def refuse(*args: object) -> None:
        raise AssertionError("the check wrote the inventory's wire form")

    monkeypatch.setattr(inventory_wire, "write_wire", refuse)
    result = run([f"--config={config(tmp_path, registry)}", "storage"])
    assert (result.exit_code, result.output.split(" - ")[0]) == (0, "REGISTRY STORAGE OK")


def test_the_reading_in_json_has_every_figure_and_no_inventory(
    registry: Registry, pushed: Pushed, tmp_path: Path
) -> None:
    """--json shows the reading's records as objects of their fields, in order; the
    inventory (internal, as large as the registry) is left out."""
    done = run_raw(f"--config={config(tmp_path, registry)}", "storage", "--json")
    value = json.loads(done.stdout)["probes"][0]["reading"]["value"]
    size = sum(p.stat().st_size for p in (registry.v2 / "blobs").rglob("data"))
    scan = value["scan"]
    assert list(scan) == [
        "started_at",
        "finished_at",
        "repositories",
        "tags",
        "manifests",
        "blobs",
        "blob_bytes",
        "last_push",
        "uploads_active",
        "uploads_stale",
        "dangling_references",
        "dangling_examples",
        "reclaimable_blobs",
        "reclaimable_bytes",
        "notes",
        "stats",
    ]
    assert {k: scan[k] for k in ("repositories", "tags", "manifests", "blobs", "blob_bytes")} == {
        "repositories": 1,
        "tags": 1,
        "manifests": 1,
        "blobs": 3,
        "blob_bytes": size,
    }
    assert (scan["dangling_examples"], scan["notes"]) == ([], [])
    stats = dict(scan["stats"], seconds=None)
    assert stats == {
        "seconds": None,
        "incremental": False,
        "changed": True,
        "buckets_listed": 3,
        "repositories_listed": 1,
        "tag_links_read": 1,
        "manifests_parsed": 1,
    }
    assert value["verify"] == {
        "enabled": True,
        "budget_bytes": 256 * 1024 * 1024,
        "bytes_this_run": size,
        "blobs_this_run": 3,
        "verified_bytes_total": size,
        "verified_blobs_total": 3,
        "failures_total": 0,
        "passes_completed": 1,
        "position": None,
        "recent_failures": [],
    }
    assert dict(value["owners"], entries_this_run=None) == {
        "user": getpass.getuser(),
        "checked": True,
        "foreign_files": 0,
        "examples": [],
        "entries_this_run": None,
        "passes_completed": 1,
        "note": None,
    }
