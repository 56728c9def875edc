import os
import subprocess
import threading
from pathlib import Path

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.disk import DiskProbe
from registry_monitor.probes.reading import ProbeRunner, run_probe
from testbed.mounts import can_mount, tmpfs


def test_reports_the_filesystem_of_data_dir(tmp_path: Path) -> None:
    r = run_probe(DiskProbe(Config(data_dir=tmp_path)), Deadline(5))
    assert r.ok, r.error
    st = os.statvfs(tmp_path)
    d = r.value
    assert d.path == str(tmp_path)
    assert d.size_bytes == st.f_blocks * st.f_frsize
    assert d.files == st.f_files
    assert d.readonly is False
    df = (
        subprocess.run(
            ["df", "--output=target,source,fstype", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[1]
        .split()
    )
    assert (d.mountpoint, d.device, d.fstype) == (df[0], df[1], df[2])


def test_missing_data_dir_is_a_failed_reading(tmp_path: Path) -> None:
    r = run_probe(DiskProbe(Config(data_dir=tmp_path / "gone")), Deadline(5))
    assert (r.ok, r.value, r.error) == (
        False,
        None,
        f"data directory {tmp_path / 'gone'} does not exist",
    )


def test_read_only_mount_is_flagged(tmp_path: Path) -> None:
    if reason := can_mount():
        pytest.skip(reason)
    try:
        with tmpfs(tmp_path / "ro", size="1m", readonly=True) as ro:
            r = run_probe(DiskProbe(Config(data_dir=ro)), Deadline(5))
    except OSError as exc:
        pytest.skip(str(exc))
    assert r.ok, r.error
    assert (r.value.readonly, r.value.fstype, r.value.mountpoint, r.value.size_bytes) == (
        True,
        "tmpfs",
        str(tmp_path / "ro"),
        1024 * 1024,
    )


def test_used_percent_as_df_computes_it(tmp_path: Path) -> None:
    d = run_probe(DiskProbe(Config(data_dir=tmp_path)), Deadline(5)).value
    df = subprocess.run(
        ["df", "--output=pcent", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1]
    # df rounds up to the next whole percent
    assert int(df.strip().rstrip("%")) - 1 <= d.used_percent <= int(df.strip().rstrip("%"))


def test_hanging_statvfs_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = os.statvfs

    def stuck(path: str) -> os.statvfs_result:
        release.wait(30)
        return real(path)

    monkeypatch.setattr("registry_monitor.probes.disk.os.statvfs", stuck)
    runner = ProbeRunner(DiskProbe(Config(data_dir=tmp_path)), timeout=0.2, grace=0.05)
    r = runner.run()
    assert (r.ok, r.error) == (False, "timed out after 0.2s")
    again = runner.run()
    assert again.error is not None and "has not returned" in again.error
    release.set()
