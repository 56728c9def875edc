"""The testbed's daemon start: up when it answers, a clear failure when it dies or hangs."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.daemon import Daemon


def test_answering_daemon_is_left_running(tmp_path: Path) -> None:
    daemon = Daemon(["sleep", "60"], tmp_path / "out.log")
    try:
        daemon.start_and_wait(lambda: True, 10, "an answer")
        assert daemon.running
    finally:
        daemon.stop()


def test_dead_daemon_fails_at_once_with_its_logs(tmp_path: Path) -> None:
    error_log = tmp_path / "error.log"
    error_log.write_text("bind: address in use\n")
    daemon = Daemon(
        ["sh", "-c", "echo starting; exit 3"],
        tmp_path / "out.log",
        name="thing",
        more_logs=[error_log],
    )
    with pytest.raises(AssertionError) as failed:
        daemon.start_and_wait(lambda: False, 60, "thing to answer")
    assert str(failed.value) == (
        "thing did not start (it exited with code 3):\nstarting\nbind: address in use"
    )
    assert not daemon.running


def test_silent_daemon_is_stopped_after_the_time_out(tmp_path: Path) -> None:
    daemon = Daemon(["sleep", "60"], tmp_path / "out.log")
    with pytest.raises(AssertionError) as failed:
        daemon.start_and_wait(lambda: False, 0.5, "an answer")
    assert (
        str(failed.value) == "sleep did not start (timed out after 0.5s waiting for an answer):\n"
    )
    assert daemon.proc is None and not daemon.running
