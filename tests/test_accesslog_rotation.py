"""Rotation faster than the probe reads, a deleted log, and counting when the position
cannot be saved: exact counts on plain files, rotations between runs and inside one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_monitor.accesslog.follow import DELETED_QUIET_SECONDS, Follower
from registry_monitor.base import Deadline
from registry_monitor.config import AccessLog, Config
from registry_monitor.files import statefile
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.traffic import STATE_FILE, TrafficProbe
from testbed.mounts import can_mount, tmpfs

STAMP = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_800_000_000))


def line(n: int) -> str:
    return (
        f'10.0.0.1 - - [{STAMP}] "GET /v2/a/manifests/t{n} HTTP/1.1" 200 100 "-" "docker" '
        f'0.004 "0.004" "200" "registry.test" "0.004"\n'
    )


class Writer:
    """Writes numbered lines to the log as nginx does: to the file it has open, which a
    rotation moves; reopen() is nginx's USR1."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.written = 0
        self.file = log.open("a")

    def write(self, n: int) -> None:
        for _ in range(n):
            self.written += 1
            self.file.write(f"line {self.written}\n")
        self.file.flush()

    def reopen(self) -> None:
        self.file.close()
        self.file = self.log.open("a")

    def rename_rotate(self) -> None:
        """logrotate: .N -> .N+1, ..., the log -> .1 (nginx keeps writing it until reopen)."""
        rotated = sorted(
            (int(p.name.rsplit(".", 1)[1]), p) for p in self.log.parent.glob(self.log.name + ".*")
        )
        for number, path in reversed(rotated):
            path.rename(self.log.with_name(f"{self.log.name}.{number + 1}"))
        self.log.rename(self.log.with_name(f"{self.log.name}.1"))

    def delete(self) -> None:
        self.log.unlink()


def numbers(lines: list[str]) -> list[int]:
    return [int(x.split()[1]) for x in lines]


def follower(log: Path) -> Follower:
    return Follower(log, log.parent / "state" / "position.json")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "logs" / "access.log"
    path.parent.mkdir()
    path.write_text("")
    return path


def test_many_renames_between_two_reads_lose_and_double_nothing(log: Path) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    got: list[int] = []
    for _ in range(3):
        for _ in range(5):  # five rotations between two runs, lines after each reopen too
            writer.write(7)
            writer.rename_rotate()
            writer.write(3)  # still to the renamed file: nginx has not reopened yet
            writer.reopen()
        writer.write(2)
        batch = f.read()
        got += numbers(batch.lines)
        assert batch.rotations == 5
    assert got == list(range(1, writer.written + 1))


def test_behind_by_rotations_before_nginx_reopened_reads_them_all(log: Path) -> None:
    """Renamed twice, the second time not yet reopened (no file at the path): the rotated
    files are read in order, and the newest, still written, is followed."""
    writer, f = Writer(log), follower(log)
    f.read()
    writer.write(3)
    writer.rename_rotate()
    writer.reopen()
    writer.write(3)
    writer.rename_rotate()
    writer.write(3)
    batch = f.read()
    assert (numbers(batch.lines), batch.rotations) == (list(range(1, 10)), 1)
    writer.write(1)
    writer.reopen()
    writer.write(1)
    batch = f.read()
    assert (numbers(batch.lines), batch.rotations) == ([10, 11], 1)


def test_delete_and_recreate_between_reads_reads_the_deleted_file_to_its_end(
    log: Path,
) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    writer.write(4)
    assert numbers(f.read().lines) == [1, 2, 3, 4]
    writer.write(2)
    writer.delete()
    writer.write(3)  # nginx writes the deleted file until it reopens
    writer.reopen()
    writer.write(5)
    batch = f.read()
    assert (numbers(batch.lines), batch.rotations) == (list(range(5, 15)), 1)


def test_copytruncate_reads_the_rest_from_the_copy_then_the_truncated_file(log: Path) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    writer.write(30)  # more than a file's first bytes: what tells the copy
    assert numbers(f.read().lines) == list(range(1, 31))
    writer.write(5)  # after the last read, before the copy: only the copy has them
    shutil.copyfile(log, log.with_name("access.log.1"))  # logrotate's copytruncate
    os.truncate(log, 0)
    writer.write(4)  # O_APPEND: from the truncated file's start
    batch = f.read()
    assert (numbers(batch.lines), batch.rotations) == (list(range(31, 40)), 1)
    writer.write(1)
    assert numbers(f.read().lines) == [40]


class AtTheEnd(Deadline):
    """A deadline that, the second time it is asked while the follower stands at the end
    of the file it reads (after the read that found nothing more), runs `then`: a writer
    that appends and rotates between the follower's last read of the old file and its
    look at the path."""

    def __init__(self, f: Follower, then: Callable[[], None]) -> None:
        super().__init__(60)
        self.f, self.then, self.seen = f, then, 0

    def remaining(self) -> float:
        position = self.f.position
        if position is not None and self.seen < 2 and f_size(position) == position[2]:
            self.seen += 1
            if self.seen == 2:
                self.then()
        return super().remaining()


def f_size(position: tuple[int, int, int]) -> int:
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.fstat(int(fd))
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == position[:2]:
            return st.st_size
    return -1


@pytest.mark.parametrize("rotation", ["rename", "delete"])
def test_a_rotation_inside_a_read_reads_what_the_writer_appended_before_reopening(
    log: Path, rotation: str
) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    writer.write(5)

    def rotate() -> None:
        writer.write(2)
        writer.rename_rotate() if rotation == "rename" else writer.delete()
        writer.write(2)
        writer.reopen()
        writer.write(3)

    batch = f.read(AtTheEnd(f, rotate))
    later = f.read()
    assert numbers(batch.lines + later.lines) == list(range(1, 13))
    assert batch.rotations + later.rotations == 1


def held_files() -> list[str]:
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # the listing's own descriptor, closed by now
    return held


def test_a_deleted_log_nobody_writes_is_closed_and_its_successor_read(log: Path) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    writer.write(2)
    assert numbers(f.read().lines) == [1, 2]
    writer.file.close()
    quiet = time.time() - DELETED_QUIET_SECONDS - 1
    os.utime(log, (quiet, quiet))
    log.unlink()
    batch = f.read()
    assert f.position is None
    assert batch.note == (
        f"access log {log} was deleted and not written for 1 minute(s): "
        "closed it, waiting for a new one"
    )
    assert f"{log} (deleted)" not in held_files()
    assert f.read().note == f"access log {log} does not exist (yet)"
    log.write_text("line 3\n")
    assert numbers(f.read().lines) == [3]


def test_a_deleted_log_still_written_is_kept_open(log: Path) -> None:
    writer, f = Writer(log), follower(log)
    f.read()
    writer.delete()
    writer.write(2)
    batch = f.read()
    assert (numbers(batch.lines), batch.note, f.position is not None) == ([1, 2], None, True)


def test_parsing_counts_against_the_deadline(tmp_path: Path) -> None:
    """A deadline that runs out after 1,000 lines are parsed stops the run there (at the
    end of the chunk being parsed): the rest is counted by the next runs, exactly once."""
    log = tmp_path / "access.log"
    log.write_text("")
    config = Config(access_log=AccessLog(path=log, format="registry_monitor"), state_dir=tmp_path)
    probe = TrafficProbe(config)
    assert run_probe(probe, Deadline(5)).ok
    with log.open("a") as f:
        f.writelines(line(n) for n in range(30_000))  # about 5 MiB: 20 chunks
    parsed = 0
    parse = probe.parser.parse

    def counting(text: str) -> object:
        nonlocal parsed
        parsed += 1
        return parse(text)

    probe.parser.parse = counting  # type: ignore[method-assign]

    class AfterThousandLines(Deadline):
        def remaining(self) -> float:
            return 0.0 if parsed >= 1000 else super().remaining()

    first = run_probe(probe, AfterThousandLines(60)).value
    assert 1000 <= first.counts.lines_parsed < 30_000
    assert first.counts.lines_parsed == parsed  # nothing parsed is left uncounted
    while (reading := run_probe(probe, Deadline(60))).value.lines_read:
        pass
    assert reading.value.counts.lines_parsed == 30_000


def traffic(tmp_path: Path, state_dir: Path) -> tuple[TrafficProbe, Path]:
    log = tmp_path / "access.log"
    config = Config(access_log=AccessLog(path=log, format="registry_monitor"), state_dir=state_dir)
    return TrafficProbe(config), log


def fill(directory: Path) -> None:
    """Write until the filesystem has no block left (unbuffered: every byte lands)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


@pytest.mark.skipif(can_mount() is not None, reason=str(can_mount()))
def test_a_full_state_dir_counts_once_and_a_restart_does_not_count_again(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "state", size="256k") as state_dir:
        probe, log = traffic(tmp_path, state_dir)
        log.write_text("")
        assert run_probe(probe, Deadline(5)).ok
        assert (state_dir / STATE_FILE).is_file()
        fill(state_dir)
        with log.open("a") as f:
            f.writelines(line(n) for n in range(60))
        reading = run_probe(probe, Deadline(5))
        assert reading.ok, reading.error
        assert reading.value.counts.lines_parsed == 60
        path = state_dir / STATE_FILE
        assert reading.value.note == (
            f"cannot save state file {path}: No space left on device; removed it, so a "
            "restart begins at the end of the log (lines written while stopped are not "
            "counted, none twice)"
        )
        assert not path.exists()
        again, _ = traffic(tmp_path, state_dir)  # the exporter restarted
        assert run_probe(again, Deadline(5)).value.counts.lines_parsed == 0
        with log.open("a") as f:
            f.write(line(61))
        assert run_probe(again, Deadline(5)).value.counts.lines_parsed == 1


def test_a_position_neither_saved_nor_removed_counts_nothing_until_it_can_be(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    probe, log = traffic(tmp_path, state_dir)
    log.write_text("")
    assert run_probe(probe, Deadline(5)).ok
    with log.open("a") as f:
        f.writelines(line(n) for n in range(60))
    with read_only(state_dir):
        reading = run_probe(probe, Deadline(5))
    assert reading.error is not None and reading.error.endswith(
        ": lines not counted until the position can be saved"
    )
    assert reading.value.counts.lines_parsed == 0
    reading = run_probe(probe, Deadline(5))  # writable again: read from the saved position
    assert (reading.error, reading.value.counts.lines_parsed) == (None, 60)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """As root a read-only bind mount of the directory (root writes through modes);
    otherwise its mode."""
    if can_mount() is None:
        subprocess.run(["mount", "--bind", "-o", "ro", directory, directory], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", directory], check=True)
    else:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)


def test_a_save_removes_the_temporary_files_a_killed_writer_left(tmp_path: Path) -> None:
    path = tmp_path / "sync-state.json"
    stale = tmp_path / ".sync-state.json.k1ll3d99"
    stale.write_text('{"half": ')
    old = time.time() - statefile.STALE_TEMP_SECONDS - 1
    os.utime(stale, (old, old))
    fresh = tmp_path / ".sync-state.json.inflight"  # another process's save in progress
    fresh.write_text("{")
    other = tmp_path / ".access-log-position.json.k1ll3d99"
    other.write_text("{")
    os.utime(other, (old, old))
    assert statefile.save(path, {"a": 1}) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".access-log-position.json.k1ll3d99",  # another name's: its own save removes it
        ".sync-state.json.inflight",
        "sync-state.json",
    ]
