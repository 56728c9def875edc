"""data_dir_must_be_mount: the data volume mounted, then gone, as check_registry disk and
the exporter's metric see it. A real tmpfs plays the volume; unmounting it leaves the
directory beneath on the filesystem below, as a host booted without its volume does."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.metrics.disk import render
from registry_monitor.config.mount_rule import on_own_volume, required
from registry_monitor.probes.disk import DiskUsage, find_mount
from registry_monitor.probes.reading import Reading
from testbed.mounts import can_mount, tmpfs
from tests.support.check import run_check, write_config
from tests.support.metrics import value


def test_on_by_default_for_the_toolforge_layout_only() -> None:
    assert required(Path("/srv/registry"), None) is True
    assert required(Path("/data/registry"), None) is False
    assert required(Path("/srv/registry"), False) is False
    assert required(Path("/data/registry"), True) is True
    # the volume's mount point may be data_dir or a directory above it
    assert on_own_volume(Path("/srv/registry"), "/srv", None) is True
    assert on_own_volume(Path("/srv/registry"), "/srv/registry", None) is True
    assert on_own_volume(Path("/srv/registry"), "/", None) is False
    assert on_own_volume(Path("/data/registry"), "/", None) is None


def usage(on_own: bool | None) -> DiskUsage:
    return DiskUsage("/srv/registry", "/", "/dev/vda", "ext4", 10, 5, 5, 10, 5, False, on_own)


def test_the_metric_is_one_when_unmounted_and_zero_when_mounted_or_the_rule_is_off() -> None:
    def exported(on_own: bool | None) -> float | None:
        families = list(render(Reading("disk", 1.0, 0.1, usage(on_own))))
        text = "".join(
            f'{s.name}{{path="{s.labels["path"]}"}} {s.value}\n'
            for f in families
            for s in f.samples
            if s.name == "registry_monitor_data_dir_unmounted"
        )
        return value(text, "registry_monitor_data_dir_unmounted", path="/srv/registry")

    assert (exported(False), exported(True), exported(None)) == (1.0, 0.0, 0.0)


def test_the_volume_unmounted_is_critical(tmp_path: Path) -> None:
    if reason := can_mount():
        pytest.skip(reason)
    if find_mount(str(tmp_path))[0] != "/":
        pytest.skip("the test's directory is not on the root filesystem here")
    volume = tmp_path / "srv"
    data = volume / "registry"
    config = write_config(
        tmp_path / "config.yaml", {"data_dir": str(data), "data_dir_must_be_mount": True}
    )
    try:
        with tmpfs(volume, size="4m"):
            data.mkdir()
            mounted = run_check(config, "disk", "-v")
    except OSError as exc:
        pytest.skip(str(exc))
    assert (mounted.exit_code, mounted.state) == (0, "OK"), mounted.stdout
    # rebooted without the volume: docker-registry makes its directory beneath
    data.mkdir()
    unmounted = run_check(config, "disk", "-v")
    assert (unmounted.exit_code, unmounted.state) == (2, "CRITICAL"), unmounted.stdout
    assert unmounted.text == (
        f"{data} is on the root filesystem, not on a volume of its own: is its volume "
        "mounted? (data_dir_must_be_mount)"
    )
