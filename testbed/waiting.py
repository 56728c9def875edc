"""Await conditions instead of sleeping; ports that only this test process uses."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll check() until it returns something truthy; fail the test with `what` otherwise."""
    end = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the condition may raise while a daemon starts
            last_error = exc
        if time.monotonic() > end:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(0.02)


# Ports for the daemons the tests start. A port the kernel picked for a bind to 0
# and that was then closed is free for anyone until the daemon binds it: the
# kernel hands the same range out for every outgoing connection and every other
# bind to 0 on the machine, and a killed daemon's port could be gone by its
# restart. So the ports come from below the kernel's ephemeral range, which it
# never hands out, in blocks of BLOCK that one test process holds for its whole
# life (an abstract unix socket named after the block: another test run on this
# machine cannot take it, and it is released when the process exits). Within a
# process a port is never given twice, so a restarted daemon gets its own back.
BLOCK = 64
_FLOOR = 10000
_blocks: list[socket.socket] = []
_next: list[int] = []
_lock = threading.Lock()


def _ephemeral_floor() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, _FLOOR + BLOCK)


def _claim_block() -> range:
    """A block of ports below the ephemeral range that no other process has claimed."""
    ceiling = _ephemeral_floor()
    count = (ceiling - _FLOOR) // BLOCK
    first = os.getpid() % count  # spread concurrent runs over the range
    for i in range(count):
        start = _FLOOR + ((first + i) % count) * BLOCK
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            claim.bind(f"\0registry-monitor-test-ports-{start}")
        except OSError:
            claim.close()
            continue
        _blocks.append(claim)
        return range(start, start + BLOCK)
    raise AssertionError(f"no free block of {BLOCK} ports in {_FLOOR}-{ceiling}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False  # something outside the tests uses it: skip it
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that only this process will use (see above)."""
    with _lock:
        while True:
            if not _next:
                _next.extend(reversed(_claim_block()))
            port = _next.pop()
            if _bindable(port):
                return port


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on, nor will: one of this process's own,
    never given to a daemon. (Not :9 or :1: a host may well run something there.)"""
    return free_port()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
