"""Idle and slow connections must not take the exporter off the air (the real process)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from testbed.exporter import Exporter
from testbed.waiting import wait_until
from tests.support.nodes import quiet_config

Start = Callable[..., Exporter]

# What a slow or hostile client leaves on a connection: nothing, half a request
# line, or a request line with half its headers.
PARTIALS = (b"", b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for s in sockets:
        s.close()


def hold_open(url: str, count: int, into: list[socket.socket]) -> None:
    host, port = url.removeprefix("http://").split(":")
    for i in range(count):
        s = socket.create_connection((host, int(port)), timeout=5)
        partial = PARTIALS[i % len(PARTIALS)]
        if partial:
            s.sendall(partial)
        into.append(s)


def closed_by_peer(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_hundreds_of_idle_connections_never_stop_a_scrape(
    tmp_path: Path, start_exporter: Start, held: list[socket.socket]
) -> None:
    exporter = start_exporter(quiet_config(tmp_path))
    hold_open(exporter.url, 300, held)
    for path in ("/metrics", "/healthz", "/metrics"):
        resp = requests.get(f"{exporter.url}{path}", timeout=5)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
    assert "registry_monitor_probe_success" in exporter.metrics_text()


def test_past_the_connection_cap_the_oldest_idle_ones_make_room(
    tmp_path: Path, start_exporter: Start, held: list[socket.socket]
) -> None:
    exporter = start_exporter(quiet_config(tmp_path), args=("--web.max-connections", "50"))
    hold_open(exporter.url, 400, held)
    resp = requests.get(f"{exporter.url}/metrics", timeout=5)
    assert resp.status_code == 200
    # The oldest idle connections were closed to make room; the newest are still open.
    wait_until(lambda: all(closed_by_peer(s) for s in held[:300]), 10, "oldest closed")
    assert not any(closed_by_peer(s) for s in held[-10:])
    exporter.stop()
    log = exporter.daemon.log_path.read_text()
    closing = [line for line in log.splitlines() if "registry_exporter.connections" in line]
    assert 1 <= len(closing) <= 3, closing  # one line, then a count, not one per connection
    assert "Exceeded concurrency limit" not in log


def test_connections_without_a_request_are_closed_after_the_header_timeout(
    tmp_path: Path, start_exporter: Start, held: list[socket.socket]
) -> None:
    exporter = start_exporter(quiet_config(tmp_path), args=("--web.header-timeout", "1"))
    # A keep-alive client that was served once, then sends half a request.
    reused = socket.create_connection(("127.0.0.1", exporter.port), timeout=5)
    held.append(reused)
    reused.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reused.recv(4096).startswith(b"HTTP/1.1 200")
    reused.sendall(b"GET /heal")
    reused.setblocking(False)
    hold_open(exporter.url, 30, held)
    begin = time.monotonic()
    wait_until(lambda: all(closed_by_peer(s) for s in held), 15, "idle connections closed")
    assert time.monotonic() - begin >= 0.5  # not closed at once: they had their time
    resp = requests.get(f"{exporter.url}/metrics", timeout=5)
    assert resp.status_code == 200


def test_a_slow_but_complete_request_is_served(tmp_path: Path, start_exporter: Start) -> None:
    exporter = start_exporter(quiet_config(tmp_path), args=("--web.header-timeout", "3"))
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as s:
        for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            s.sendall(piece)
            time.sleep(0.3)  # a slow client, well inside the header time-out
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_client_that_does_not_read_its_answers_is_cut_off(
    tmp_path: Path, start_exporter: Start, held: list[socket.socket]
) -> None:
    exporter = start_exporter(quiet_config(tmp_path), args=("--web.header-timeout", "1"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", exporter.port))
    held.append(s)
    s.settimeout(2)
    with contextlib.suppress(TimeoutError):  # the server stops reading once it is stuck
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 5000)  # pipelined, never read

    def cut_off() -> bool:
        return "did not take its response within 3s" in exporter.daemon.log_path.read_text()

    wait_until(cut_off, 20, "the stalled connection aborted")
    assert requests.get(f"{exporter.url}/metrics", timeout=5).status_code == 200


def test_bad_requests_are_logged_at_a_bounded_rate(tmp_path: Path, start_exporter: Start) -> None:
    exporter = start_exporter(quiet_config(tmp_path))
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 400")
    exporter.stop()
    log = exporter.daemon.log_path.read_text()
    # uvicorn's warning for each (its words are its own): one line, or a second saying how
    # many like it were held back
    warned = [
        line.split(" uvicorn.error: ", 1)[1]
        for line in log.splitlines()
        if " WARNING uvicorn.error: " in line
    ]
    assert 1 <= len(warned) <= 2, log[-2000:]
    assert all(w.split(" (and ", 1)[0] == warned[0] for w in warned), warned
    assert all(w.endswith(" more like it since the last such line)") for w in warned[1:])
