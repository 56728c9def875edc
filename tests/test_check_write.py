"""check_registry write: a real canary push into the real registry."""

from __future__ import annotations

from pathlib import Path

from testbed.registry import Registry
from tests.support.check import run_check, write_config


def config(tmp_path: Path, url: str, **extra: object) -> Path:
    return write_config(
        tmp_path / "config.yaml", {"data_dir": str(tmp_path), "backend_url": url, **extra}
    )


def test_push_works(registry: Registry, tmp_path: Path) -> None:
    run = run_check(config(tmp_path, registry.url), "write", "-v")
    assert (run.exit_code, run.state) == (0, "OK")
    assert run.text.startswith("blob push to registry-monitor-canary completed in ")
    assert run.long[0].startswith("[OK] blob push to registry-monitor-canary took ")
    assert run.perf("write_up").value == 1
    duration = run.perf("write_duration")
    assert (duration.uom, duration.warn, duration.crit, duration.min) == ("s", "", "", 0)


def test_duration_thresholds(registry: Registry, tmp_path: Path) -> None:
    run = run_check(config(tmp_path, registry.url), "write", "-w", "0", "-c", "30")
    assert (run.exit_code, run.state) == (1, "WARNING")
    assert run.text.endswith(" ms (warning > 0)")
    assert (run.perf("write_duration").warn, run.perf("write_duration").crit) == ("0", "30")


def test_read_only_registry_is_critical(tmp_path: Path) -> None:
    reg = Registry(
        tmp_path / "ro",
        extra_config={
            "storage": {
                "filesystem": {"rootdirectory": str(tmp_path / "ro" / "data")},
                "maintenance": {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}},
            }
        },
    ).start()
    try:
        run = run_check(config(tmp_path, reg.url), "write")
    finally:
        reg.stop()
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text.startswith("blob push to registry-monitor-canary failed after ")
    assert " ms: starting an upload answered HTTP 405" in run.text
    assert run.perf("write_up").value == 0


def test_stopped_registry_is_critical(registry: Registry, tmp_path: Path) -> None:
    registry.stop()
    run = run_check(config(tmp_path, registry.url), "write")
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text.endswith(" ms: connection refused")


def test_off_on_the_standby(registry: Registry, tmp_path: Path) -> None:
    run = run_check(config(tmp_path, registry.url, role="standby"), "write")
    assert (run.exit_code, run.state, run.text) == (
        3,
        "UNKNOWN",
        "the write probe is off on this node (role standby); set write_probe: true to push "
        "canaries here",
    )
    assert not (registry.v2 / "repositories").exists()  # nothing was pushed
