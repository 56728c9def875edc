"""FIFOs, devices and directories where the probes read files: refused at once with the
reason, never a read blocked in open(); the next run recovers once the path is sane."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from registry_monitor.config import AccessLog, Config
from registry_monitor.files import regular_file, statefile
from registry_monitor.probes.reading import ProbeRunner
from registry_monitor.probes.traffic import STATE_FILE, TrafficProbe
from tests.support.check import run_check

STAMP = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_800_000_000))


def line(n: int) -> str:
    return (
        f'10.0.0.1 - - [{STAMP}] "GET /v2/a/manifests/t{n} HTTP/1.1" 200 100 "-" "docker" '
        f'0.004 "0.004" "200" "registry.test" "0.004"\n'
    )


@pytest.mark.parametrize("kind", ["fifo", "symlink to a fifo", "directory", "device"])
def test_the_helper_refuses_what_is_not_a_regular_file_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "file"
    words = {"fifo": "a FIFO", "directory": "a directory", "device": "a character device"}
    if kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/null")
    else:
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        if kind == "fifo":
            path = fifo
        else:
            path.symlink_to(fifo)
    with pytest.raises(regular_file.NotRegularFile) as refused:
        regular_file.open_fd(path)
    assert refused.value.strerror == f"is {words.get(kind, 'a FIFO')}, not a regular file"
    assert refused.value.filename == str(path)


def test_the_helper_reads_regular_files_blocking_and_refuses_symlinks_when_asked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    fd, info = regular_file.open_fd(path)
    try:
        assert info.st_size == 10
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK == 0
    finally:
        os.close(fd)
    assert regular_file.read_bytes(path, 4) == b"01234"  # one past the bound: too large
    with pytest.raises(OSError, match="larger than 4 bytes"):
        regular_file.read_all(path, 4)
    link = tmp_path / "link"
    link.symlink_to(path)
    assert regular_file.read_all(link, 10) == b"0123456789"
    with pytest.raises(OSError) as refused:
        regular_file.open_fd(link, follow=False)
    assert not isinstance(refused.value, regular_file.NotRegularFile)


def traffic_probe(tmp_path: Path, log: Path) -> ProbeRunner:
    config = Config(
        access_log=AccessLog(path=log, format="registry_monitor"), state_dir=tmp_path / "state"
    )
    return ProbeRunner(TrafficProbe(config), timeout=5, grace=5)


def test_a_fifo_at_the_access_log_is_refused_and_a_regular_file_is_read_after_it(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "access.log.fifo"
    os.mkfifo(fifo)
    log = tmp_path / "access.log"
    log.symlink_to(fifo)  # as an operator's mistake or a rotation can leave it
    runner = traffic_probe(tmp_path, log)
    for _ in range(2):  # no thread stuck in open(): every run answers
        reading = runner.run()
        assert reading.error == f"access log {log} is a FIFO, not a regular file"
    log.unlink()
    log.write_text(line(1) + line(2))
    reading = runner.run()
    assert reading.ok, reading.error
    assert (reading.value.counts.lines_parsed, reading.value.lines_read) == (2, 2)
    with log.open("a") as f:
        f.write(line(3))
    reading = runner.run()
    assert (reading.value.counts.lines_parsed, reading.value.lines_read) == (3, 1)


def test_a_directory_at_the_access_log_is_named_as_one(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.mkdir()
    reading = traffic_probe(tmp_path, log).run()
    assert reading.error == f"access log {log} is a directory, not a regular file"


def test_a_fifo_as_the_access_log_state_file_is_a_note_and_replaced(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    state = tmp_path / "state" / STATE_FILE
    state.parent.mkdir()
    os.mkfifo(state)
    runner = traffic_probe(tmp_path, log)
    reading = runner.run()
    assert reading.ok, reading.error
    assert reading.value.note is None  # the note of the load, then a good save over it
    assert state.is_file()
    with log.open("a") as f:
        f.write(line(1))
    assert runner.run().value.counts.lines_parsed == 1


def test_a_fifo_or_directory_as_a_state_file_is_a_note_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "sync-state.json"
    os.mkfifo(fifo)
    assert statefile.load(fifo) == (
        {},
        f"state file {fifo} unreadable (is a FIFO, not a regular file); starting afresh",
    )
    assert statefile.save(fifo, {"a": 1}) is None
    assert statefile.load(fifo) == ({"a": 1}, None)
    directory = tmp_path / "dir.json"
    directory.mkdir()
    assert statefile.load(directory)[1] == (
        f"state file {directory} unreadable (is a directory, not a regular file); starting afresh"
    )


def test_check_registry_answers_within_t_with_a_fifo_as_its_config_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks import config_cache

    config = tmp_path / "config.yaml"
    config.write_text(f"data_dir: {tmp_path / 'gone'}\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = config_cache.cache_file(config)
    assert cache is not None
    cache.parent.mkdir(parents=True, mode=0o700)
    os.mkfifo(cache, 0o600)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = run_check(config, "disk", "-t", "5", timeout=30, env=env)
    assert (run.exit_code, run.text) == (3, f"data directory {tmp_path / 'gone'} does not exist")
    assert cache.is_file()  # the validated config replaced the FIFO


def test_a_fifo_put_in_place_of_a_followed_log_is_named_and_left_for_the_next_file(
    tmp_path: Path,
) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    runner = traffic_probe(tmp_path, log)
    assert runner.run().ok
    with log.open("a") as f:
        f.write(line(1))
    log.rename(tmp_path / "access.log.1")
    os.mkfifo(log)
    reading = runner.run()
    assert reading.ok, reading.error
    assert reading.value.counts.lines_parsed == 1  # the old file, read to its end
    assert reading.value.note == f"access log {log} is a FIFO, not a regular file"
    log.unlink()
    log.write_text(line(2) + line(3))
    reading = runner.run()
    assert (reading.value.counts.lines_parsed, reading.value.note) == (3, None)


def test_a_fifo_at_a_private_files_temporary_name_fails_the_write_at_once(
    tmp_path: Path,
) -> None:
    import threading

    from registry_monitor.files import private_file

    target = tmp_path / "cache" / "cert-facts.marshal"
    target.parent.mkdir(mode=0o700)
    os.mkfifo(target.with_name(f"{target.name}.{os.getpid()}"))
    writer = threading.Thread(target=private_file.write, args=(target, b"x"), daemon=True)
    writer.start()
    writer.join(10)
    assert not writer.is_alive()  # a blocked open() of the FIFO would still be waiting
    assert private_file.read(target, 10) is None  # nothing written: the next run computes


def test_check_registry_traffic_refuses_a_fifo_as_the_log(tmp_path: Path) -> None:
    import threading

    from registry_monitor.accesslog.window import read_window
    from registry_monitor.base import Deadline, ProbeFailed

    fifo = tmp_path / "access.log"
    os.mkfifo(fifo)
    failed: list[str] = []

    def window() -> None:
        try:
            read_window(fifo, "registry_monitor", 5, time.time(), Deadline(5))
        except ProbeFailed as exc:
            failed.append(str(exc))

    reader = threading.Thread(target=window, daemon=True)
    reader.start()
    reader.join(10)
    assert failed == [f"cannot read access log {fifo}: is a FIFO, not a regular file"]
