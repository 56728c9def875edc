"""Every probe's HTTP call is held to its time-out as a whole: connect, head and body."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from registry_monitor.base import Deadline
from registry_monitor.clients import http_transport
from registry_monitor.clients.http import Client, RequestFailed
from registry_monitor.config import Config
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.standby import StandbyProbe
from registry_monitor.probes.write import WriteProbe
from tests.support.trickle import Trickle

MODES = ["silent", "head", "body"]


@pytest.mark.parametrize("mode", MODES)
def test_a_client_call_ends_at_its_timeout_however_slow_the_server(mode: str) -> None:
    # At 0.1 s a byte the head takes 10 s and the body 400 s; each byte resets a socket time-out.
    with Trickle(mode) as slow:
        client = Client()
        begin = time.monotonic()
        with pytest.raises(RequestFailed) as failed:
            resp = client.get(f"{slow.url}/v2/", timeout=1)
            resp.read_capped(1 << 20, Deadline(60))  # the call's own bound, not this one
        assert time.monotonic() - begin < 5
    assert str(failed.value) == "read timed out"


def test_the_bound_is_the_calls_own() -> None:
    with Trickle("body", step=0.05, size=20) as slow:
        client = Client()
        with pytest.raises(RequestFailed):
            client.get(slow.url, timeout=0.5).read_capped(1 << 20, Deadline(60))
        # The next call without a time-out is unbounded: the body arrives.
        body = client.get(slow.url).read_capped(1 << 20, Deadline(60))
        assert len(body) == 20


def test_a_body_cut_by_the_deadline_has_given_the_bytes_that_arrived() -> None:
    """A blob dripping one byte per 0.1 s: the chunks read before the time-out carry what
    arrived, so the pull probe says "read timed out after N bytes" with N > 0."""
    with Trickle("body", size=1 << 20) as slow:
        resp = Client().get(slow.url, timeout=1)
        read = 0
        with pytest.raises(RequestFailed) as failed:
            for chunk in resp.iter_chunks(1 << 20):
                read += len(chunk)
        assert 0 < read <= slow.sent
    assert str(failed.value) == "read timed out"


@pytest.mark.parametrize("mode", MODES)
def test_the_standby_probe_fails_in_time_with_the_reason(mode: str, tmp_path: Path) -> None:
    with Trickle(mode) as slow:
        config = Config(role="standby", data_dir=tmp_path, active_exporter_url=slow.url)
        reading = run_probe(StandbyProbe(config), Deadline(1))
    assert reading.error is not None and reading.error.endswith("read timed out"), reading.error


@pytest.mark.parametrize("mode", MODES)
def test_the_write_probe_fails_in_time_with_the_reason(mode: str) -> None:
    with Trickle(mode) as slow:
        reading = run_probe(WriteProbe(Config(backend_url=slow.url)), Deadline(1))
    assert reading.ok and reading.value is not None
    assert (reading.value.up, reading.value.error) == (False, "read timed out")


def test_a_close_inside_a_close_in_one_thread_goes_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection's close can run a pool's finalizer (garbage collection) that closes
    another connection in the same thread, under the watchdog's lock: it must not wait
    for itself. A private watchdog, so a thread stuck here holds no lock of the suite's."""
    monkeypatch.setattr(http_transport, "WATCHDOG", http_transport._Watchdog())
    done = threading.Event()

    def nested_close() -> None:
        with http_transport.WATCHDOG.lock:  # as the outer close holds it
            http_transport._HTTPConnection("127.0.0.1", 9).close()
        done.set()

    threading.Thread(target=nested_close, daemon=True).start()
    assert done.wait(30)
