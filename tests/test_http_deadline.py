"""Every probe's HTTP call is held to its time-out as a whole: connect, head and body."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.http import make_session, read_capped
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.standby import StandbyProbe
from registry_monitor.probes.write import WriteProbe
from tests.support.trickle import Trickle

MODES = ["silent", "head", "body"]


@pytest.mark.parametrize("mode", MODES)
def test_a_session_call_ends_at_its_timeout_however_slow_the_server(mode: str) -> None:
    # At 0.1 s a byte the head takes 10 s and the body 400 s; each byte resets a socket time-out.
    with Trickle(mode) as slow:
        session = make_session(None)
        begin = time.monotonic()
        with pytest.raises(requests.RequestException):
            resp = session.get(f"{slow.url}/v2/", timeout=1, stream=True)
            read_capped(resp, 1 << 20, Deadline(60))  # the call's own bound, not this one
        assert time.monotonic() - begin < 5


def test_the_bound_is_the_calls_own() -> None:
    with Trickle("body", step=0.05, size=20) as slow:
        session = make_session(None)
        with pytest.raises(requests.RequestException):
            read_capped(session.get(slow.url, timeout=0.5, stream=True), 1 << 20, Deadline(60))
        # The next call without a time-out is unbounded, as requests has it: the body arrives.
        body = read_capped(session.get(slow.url, stream=True), 1 << 20, Deadline(60))
        assert len(body) == 20


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
