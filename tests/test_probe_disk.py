import os
import subprocess
import threading
from pathlib import Path
from typing import NamedTuple

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.judging.judge import judge
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options
from registry_monitor.judging.verdicts import load
from registry_monitor.probes.disk import DiskProbe, find_mount, superblock_options
from registry_monitor.probes.reading import ProbeRunner, run_probe
from testbed.mounts import can_mount, read_only_bind, tmpfs


class Part(NamedTuple):  # the fields of psutil's partitions the probe reads
    device: str
    mountpoint: str
    fstype: str
    opts: str


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


def test_the_mount_holding_the_path_is_the_longest_and_last_mounted() -> None:
    table = [
        Part("/dev/vda1", "/", "ext4", "rw,relatime"),
        Part("/dev/vdb", "/srv", "xfs", "rw"),
        Part("/dev/vdc", "/srv/registry data", "ext4", "rw"),
        Part("tmpfs", "/srv/registry data", "tmpfs", "ro"),
        Part("odd\\name", "/srv/reg", "tmpfs", "rw"),
    ]
    assert find_mount("/srv/registry data/docker", table) == (
        "/srv/registry data",
        "tmpfs",
        "tmpfs",
        "ro",
    )
    assert find_mount("/srv/registry", table)[:3] == ("/srv", "/dev/vdb", "xfs")  # not /srv/reg
    assert find_mount("/srv/reg/x", table)[:3] == ("/srv/reg", "odd\\name", "tmpfs")
    assert find_mount("/home", table)[:3] == ("/", "/dev/vda1", "ext4")


def test_the_superblock_options_come_after_the_separator(tmp_path: Path) -> None:
    """mountinfo(5): the mount's own options in field 6, optional fields, ` - `, then
    fstype, source and the superblock's options; escapes decoded; the last mount wins."""
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n"
        "40 22 0:50 /data /srv/registry\\040data ro,nosuid master:3 shared:9 - tmpfs tmpfs rw,size=4096k\n"
        "41 22 0:51 / /srv/ro rw - tmpfs tmpfs ro\n"
        "short line\n"
    )
    assert superblock_options("/srv/registry data", table) == {"rw", "size=4096k"}
    assert superblock_options("/srv/ro", table) == {"ro"}
    assert superblock_options("/", table) == {"rw", "errors=remount-ro"}
    assert superblock_options("/nowhere", table) is None


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


def test_a_read_only_bind_mount_of_a_writable_filesystem_is_writable(tmp_path: Path) -> None:
    """The hardened unit's view of /srv/registry (ReadOnlyPaths=): the mount is read-only
    in this namespace, the filesystem under it is not, and the registry writes there."""
    if reason := can_mount():
        pytest.skip(reason)
    config = Config(data_dir=tmp_path / "view")
    limits = load("disk").thresholds(config, Options())
    try:
        with tmpfs(tmp_path / "fs", size="1m") as fs:
            (fs / "srv").mkdir()
            with read_only_bind(fs / "srv", tmp_path / "view"):
                r = run_probe(DiskProbe(config), Deadline(5))
                statvfs_says = bool(os.statvfs(tmp_path / "view").f_flag & os.ST_RDONLY)
    except OSError as exc:
        pytest.skip(str(exc))
    assert r.ok, r.error
    assert (r.value.mountpoint, r.value.readonly, r.value.mount_readonly, statvfs_says) == (
        str(tmp_path / "view"),
        False,
        True,
        True,
    )
    verdict = judge(r, limits)
    assert verdict.state == State.OK
    assert verdict.items[0].text == (
        f"{tmp_path / 'view'} (tmpfs tmpfs) is writable "
        "(read-only in this process's view only: a sandbox's bind mount)"
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
