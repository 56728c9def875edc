import os
import subprocess
import threading
from pathlib import Path

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.disk import DiskProbe, find_mount, mounts
from registry_monitor.probes.reading import ProbeRunner, run_probe
from testbed.mounts import can_mount, tmpfs


def test_reports_the_filesystem_of_data_dir(tmp_path: Path) -> None:
    """Exact figures of a 4 MiB tmpfs of 100 inodes holding 1 MiB in one file."""
    if reason := can_mount():
        pytest.skip(reason)
    try:
        with tmpfs(tmp_path / "fs", size="4m", inodes=100) as fs:
            data = fs / "srv"
            data.mkdir()
            (data / "blob").write_bytes(b"\0" * 1024 * 1024)
            r = run_probe(DiskProbe(Config(data_dir=data)), Deadline(5))
            df = subprocess.run(
                ["df", "--output=target,source,fstype", str(data)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()[1]
    except OSError as exc:
        pytest.skip(str(exc))
    assert r.ok, r.error
    d = r.value
    assert (d.path, d.mountpoint, d.device, d.fstype) == (str(data), str(fs), "tmpfs", "tmpfs")
    assert df.split() == [d.mountpoint, d.device, d.fstype]
    MiB = 1024 * 1024
    assert (d.size_bytes, d.avail_bytes, d.free_bytes) == (4 * MiB, 3 * MiB, 3 * MiB)
    assert (d.files, d.files_free, d.readonly) == (100, 97, False)  # root, srv, blob


def test_the_mount_table_is_read_as_getmntent_reads_it(tmp_path: Path) -> None:
    """Escaped characters decoded; the longest mount point holding the path; of two at
    the same point, the one mounted last (the one statvfs sees)."""
    table = tmp_path / "mounts"
    table.write_text(
        "/dev/vda1 / ext4 rw,relatime 0 0\n"
        "/dev/vdb /srv xfs rw 0 0\n"
        "/dev/vdc /srv/registry\\040data ext4 rw 0 0\n"
        "tmpfs /srv/registry\\040data tmpfs rw 0 0\n"
        "odd\\134name /srv/reg tmpfs rw 0 0\n"
        "/dev/vdd /srv/nbsp\u00a0here\u2028too xfs rw 0 0\n"
        "short line\n"
    )
    assert mounts(table)[2:] == [
        ("/srv/registry data", "/dev/vdc", "ext4"),
        ("/srv/registry data", "tmpfs", "tmpfs"),
        ("/srv/reg", "odd\\name", "tmpfs"),
        ("/srv/nbsp\u00a0here\u2028too", "/dev/vdd", "xfs"),  # no Unicode splitting
    ]
    assert find_mount("/srv/registry data/docker", table) == (
        "/srv/registry data",
        "tmpfs",
        "tmpfs",
    )
    assert find_mount("/srv/registry", table) == ("/srv", "/dev/vdb", "xfs")  # not /srv/reg
    assert find_mount("/srv/reg/x", table) == ("/srv/reg", "odd\\name", "tmpfs")
    assert find_mount("/home", table) == ("/", "/dev/vda1", "ext4")


def test_the_mount_table_matches_psutils_on_this_host() -> None:
    psutil = pytest.importorskip("psutil")  # a test dependency only
    expected = [(p.mountpoint, p.device, p.fstype) for p in psutil.disk_partitions(all=True)]
    assert mounts() == expected


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


@pytest.mark.parametrize(
    ("used", "percent", "df_says"),
    [(3 * 1024 * 1024, 75.0, "75%"), (3 * 1024 * 1024 + 4096, 75.09765625, "76%")],
)
def test_used_percent_as_df_computes_it(
    tmp_path: Path, used: int, percent: float, df_says: str
) -> None:
    """On a 4 MiB tmpfs of its own, filled to an exact level: nothing else writes there
    between the probe's statvfs and df's."""
    if reason := can_mount():
        pytest.skip(reason)
    try:
        with tmpfs(tmp_path / "fs", size="4m") as fs:
            (fs / "blob").write_bytes(b"\0" * used)
            d = run_probe(DiskProbe(Config(data_dir=fs)), Deadline(5)).value
            df = subprocess.run(
                ["df", "--output=pcent", str(fs)], capture_output=True, text=True, check=True
            ).stdout.splitlines()[1]
    except OSError as exc:
        pytest.skip(str(exc))
    assert d.used_percent == percent
    assert df.strip() == df_says  # df rounds up to the next whole percent


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
