"""check_registry disk on real filesystems: small tmpfs mounts filled to exact levels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from testbed.mounts import can_mount, tmpfs
from tests.support.check import run_check, write_config

MiB = 1024 * 1024


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """A 4 MiB tmpfs (100 inodes) under tmp_path, unmounted after the test."""
    if reason := can_mount():
        pytest.skip(reason)
    with ExitStack() as stack:

        def make(name: str = "data", readonly: bool = False) -> Path:
            try:
                return stack.enter_context(
                    tmpfs(tmp_path / name, size="4m", readonly=readonly, inodes=100)
                )
            except OSError as exc:
                pytest.skip(str(exc))

        yield make


def fill(directory: Path, size: int, files: int = 0) -> None:
    (directory / "blob").write_bytes(b"\0" * size)
    for i in range(files):
        (directory / f"f{i}").touch()


def config_for(tmp_path: Path, data_dir: Path) -> Path:
    return write_config(tmp_path / "config.yaml", {"data_dir": str(data_dir)})


def test_ok_with_every_figure_in_perfdata(mount: Callable[..., Path], tmp_path: Path) -> None:
    data = mount()
    fill(data, 3 * MiB)  # 75% of 4 MiB; inodes: the root and one file of 100
    run = run_check(config_for(tmp_path, data), "disk")
    assert (run.exit_code, run.state) == (0, "OK")
    assert run.text == (f"75.0% of 4.0 MiB used, 1.0 MiB available, 2.0% inodes used on {data}")
    assert run.stdout.split(" | ")[1] == (
        "used_percent=75%;80;90;0;100 inodes_used_percent=2%;80;90;0;100 "
        f"size={4 * MiB}B;;;0 avail={MiB}B;;;0;{4 * MiB} free={MiB}B;;;0;{4 * MiB} "
        "inodes=100;;;0 inodes_free=98;;;0;100 readonly=0;;@1:1;0;1\n"
    )


@pytest.mark.parametrize(
    ("used", "code", "state", "why"),
    [
        (3.5 * MiB, 1, "WARNING", "87.5% of 4.0 MiB used, 512.0 KiB available (warning > 80)"),
        (3.75 * MiB, 2, "CRITICAL", "93.8% of 4.0 MiB used, 256.0 KiB available (critical > 90)"),
    ],
)
def test_config_thresholds_on_used_space(
    mount: Callable[..., Path], tmp_path: Path, used: float, code: int, state: str, why: str
) -> None:
    data = mount()
    fill(data, int(used))
    run = run_check(config_for(tmp_path, data), "disk", "-v")
    assert (run.exit_code, run.state, run.text) == (code, state, f"space: {why}")
    assert run.perf("used_percent").value == 100 * used / (4 * MiB)
    assert run.long == [
        f"[OK] {data} (tmpfs tmpfs) is writable",
        f"[{state}] space: {why}",
        "[OK] inodes: 2.0% of 100 used",
    ]


def test_inodes_judged_on_their_own(mount: Callable[..., Path], tmp_path: Path) -> None:
    data = mount()
    fill(data, 0, files=83)  # root + blob + 83 = 85 of 100
    config = config_for(tmp_path, data)
    run = run_check(config, "disk")
    assert (run.exit_code, run.text) == (1, "inodes: 85.0% of 100 used (warning > 80)")
    assert run.perf("inodes_used_percent").value == 85
    # -W/-K override the config's inode levels, as check_disk's do
    run = run_check(config, "disk", "-W", "90", "-K", "84")
    assert (run.exit_code, run.text) == (2, "inodes: 85.0% of 100 used (critical > 84)")
    assert (run.perf("inodes_used_percent").warn, run.perf("inodes_used_percent").crit) == (
        "90",
        "84",
    )


def test_read_only_filesystem_is_critical(mount: Callable[..., Path], tmp_path: Path) -> None:
    data = mount("ro", readonly=True)
    run = run_check(config_for(tmp_path, data), "disk")
    assert (run.exit_code, run.state, run.text) == (2, "CRITICAL", f"{data} is mounted read-only")
    assert run.perf("readonly").value == 1


def test_available_bytes_with_unit_bytes(mount: Callable[..., Path], tmp_path: Path) -> None:
    data = mount()
    fill(data, 3 * MiB)
    config = config_for(tmp_path, data)
    run = run_check(config, "disk", "--unit", "bytes", "-w", "2000000", "-c", "500000")
    assert (run.exit_code, run.text) == (
        1,
        f"space: 1.0 MiB ({MiB} B) available (warning < 2000000)",
    )
    assert (run.perf("avail").warn, run.perf("avail").crit) == ("2000000:", "500000:")
    assert run.perf("used_percent").warn == ""  # percent is not judged in bytes mode
    run = run_check(config, "disk", "--unit", "bytes", "-c", "2000000")
    assert (run.exit_code, run.state) == (2, "CRITICAL")


def test_overrides_replace_config_levels_one_by_one(
    mount: Callable[..., Path], tmp_path: Path
) -> None:
    """-w/-c replace the config's levels one by one, on a filesystem of known fill."""
    data = mount()
    fill(data, MiB)  # 25.0% of 4 MiB; inodes 2.0%
    config = config_for(tmp_path, data)
    assert run_check(config, "disk").state == "OK"
    run = run_check(config, "disk", "-w", "0")  # any use is above 0
    assert (run.exit_code, run.text) == (
        1,
        "space: 25.0% of 4.0 MiB used, 3.0 MiB available (warning > 0)",
    )
    run = run_check(config, "disk", "-c", "0")
    assert (run.exit_code, run.perf("used_percent").warn, run.perf("used_percent").crit) == (
        2,
        "80",
        "0",
    )
    assert run_check(config, "disk", "-w", "@0:100", "-c", "100").state == "WARNING"
    assert run_check(config, "disk", "-w", "100", "-c", "100").state == "OK"
    assert run_check(config, "disk", "-w", "20", "-c", "30").state == "WARNING"
    assert run_check(config, "disk", "-w", "10", "-c", "20").state == "CRITICAL"


def test_missing_data_dir_is_unknown(tmp_path: Path) -> None:
    run = run_check(config_for(tmp_path, tmp_path / "gone"), "disk")
    assert (run.exit_code, run.text) == (3, f"data directory {tmp_path / 'gone'} does not exist")
    assert run.output.perfdata == {}


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--unit", "bytes"], "--unit bytes needs -w and/or -c in available bytes"),
        (["-W", "x"], "-W: 'x' is not a range"),
        (["--unit", "GiB"], "argument --unit: invalid choice: 'GiB'"),
        (["-w", "9" * 309], "-w: '99999999999999999999...99999999' is not a range: "),
        (["-w", "9" * 4301], "-w: '99999999999999999999...99999999' is not a range: "),
        (["-c", "1:" + "9" * 400], "-c: '1:999999999999999999...99999999' is not a range: "),
    ],
)
def test_bad_disk_arguments(tmp_path: Path, args: list[str], reason: str) -> None:
    run = run_check(config_for(tmp_path, tmp_path), "disk", *args)
    assert (run.exit_code, run.state) == (3, "UNKNOWN")
    assert run.text.startswith(reason), run.text
    assert len(run.text) < 200, run.text
