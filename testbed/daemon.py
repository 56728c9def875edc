"""A real daemon started by a test: own process group, log file, stopped for sure."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from testbed.waiting import wait_until


class Daemon:
    def __init__(
        self,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        name: str | None = None,
        more_logs: Sequence[Path] = (),
        stop_timeout: float = 10.0,
    ) -> None:
        """`name` for messages (default: the program's); `more_logs` are files the daemon
        writes itself (an error log), shown after its output when it fails to start;
        `stop_timeout` is how long a stop waits before SIGKILL."""
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.name = name or Path(argv[0]).name
        self.more_logs = tuple(more_logs)
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.argv[0]} already running"
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        finally:
            log.close()

    def start_and_wait(self, answers: Callable[[], object], timeout: float, what: str) -> None:
        """Start, and wait until answers() is truthy (it may raise while the daemon comes
        up) or the process has died; if neither within `timeout`, or it died, stop it and
        fail with the tail of its logs."""
        self.start()
        proc = self.proc
        assert proc is not None
        try:
            wait_until(lambda: proc.poll() is not None or answers(), timeout, what)
        except AssertionError as exc:
            self.give_up(str(exc))
        if proc.poll() is not None:
            self.give_up(f"it exited with code {proc.returncode}")

    def give_up(self, why: str) -> NoReturn:
        """Stop a daemon that did not come up and fail with why and the tail of its logs."""
        tail = self.log_tail()
        self.stop()
        raise AssertionError(f"{self.name} did not start ({why}):\n{tail}") from None

    def stop(
        self, sig: int = signal.SIGTERM, timeout: float | None = None, *, leader_only: bool = False
    ) -> None:
        """`sig` to the daemon's process group (only to the process started, with
        `leader_only`: a supervisor that stops its own children in order), SIGKILL to the
        group after `timeout`."""
        timeout = self.stop_timeout if timeout is None else timeout
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            if leader_only:
                proc.send_signal(sig)
            else:
                os.killpg(proc.pid, sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(_tail(path, lines) for path in (self.log_path, *self.more_logs))


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
