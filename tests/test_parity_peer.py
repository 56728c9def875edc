"""parity between exporters: keyed digests, served only with a token, and the standby's
guard against whatever an active (or something posing as one) sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from exporter.metrics.parity import render
from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.judging.readiness import Blocker, assess_readiness
from registry_monitor.judging.state import State
from registry_monitor.judging.verdicts.parity import judge
from registry_monitor.probes.parity import MAX_ITEMS, ParityProbe, ParityStatus, parity_key
from registry_monitor.probes.reading import Reading, run_probe
from testbed.exporter import Exporter
from tests.support.metrics import value
from tests.support.nodes import quiet_config

TOKEN = "a-long-random-shared-secret"
Start = Callable[..., Exporter]


def standby(server: HTTPServer, tmp_path: Path, **extra: Any) -> ParityProbe:
    settings: dict[str, Any] = {
        "node": "b",
        "role": "standby",
        "public_url": "http://127.0.0.1:9",
        "cert_file": None,
        "active_exporter_url": server.url_for("").rstrip("/"),
        "api_token": TOKEN,
        "parity_files": {},
        "registry_binary": str(tmp_path / "no-registry"),
        "state_dir": tmp_path / "state",
    }
    return ParityProbe(Config(**{**settings, **extra}))


def described(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": 2, "node": "a", "role": "active", "generated_at": 1.0, "items": items}


def test_a_description_of_15000_items_is_capped_and_the_rest_counted(
    fake_http: HTTPServer, tmp_path: Path
) -> None:
    items = [{"item": f"i{n}"} for n in range(15_000)]  # 240 kB
    fake_http.expect_request("/api/parity").respond_with_json(described(items))
    reading = run_probe(standby(fake_http, tmp_path), Deadline(10))
    status = reading.value
    assert reading.ok and isinstance(status, ParityStatus), reading.error
    # the active's first MAX_ITEMS, then this node's own two (versions): capped at MAX_ITEMS
    local_only = 2
    assert [m.item for m in status.matches] == [f"i{n}" for n in range(MAX_ITEMS)]
    assert status.uncompared == 15_000 - MAX_ITEMS + local_only
    families = {f.name: f.samples for f in render(reading)}
    assert len(families["registry_monitor_parity_match"]) == MAX_ITEMS
    (rest,) = families["registry_monitor_parity_items_uncompared"]
    assert rest.value == 15_000 - MAX_ITEMS + local_only
    verdict = judge(reading, {})
    assert verdict.state is State.WARNING
    assert verdict.items[-1].text == (
        f"{status.uncompared} more items of a not compared (past the cap of items compared)"
    )
    readiness = assess_readiness(Config(role="standby", cert_file=None), {"parity": reading})
    assert Blocker("parity_mismatch", f"{status.uncompared} items of the active not compared") in (
        readiness.blockers
    )


BIG = 1024 * 1024 + 1
TOO_BIG = json.dumps(described([{"item": "x" * BIG}])).encode()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 20_000 + b"]" * 20_000, "JSON nested too deeply"),
        (TOO_BIG, f"response body of {len(TOO_BIG)} bytes exceeds the 1048576 byte cap"),
        (b"[" + b"{}," * 300_000 + b"{}]", "more than 200000 JSON values"),
        (b'{"format": 1, "items": []}', "not a format 2 parity description"),
    ],
)
def test_a_hostile_description_is_refused_with_the_reason(
    fake_http: HTTPServer, tmp_path: Path, body: bytes, why: str
) -> None:
    fake_http.expect_request("/api/parity").respond_with_data(body)
    reading = run_probe(standby(fake_http, tmp_path), Deadline(10))
    assert reading.error == f"active's parity description rejected: {why}"
    assert isinstance(reading.value, ParityStatus)  # this node's own description is kept
    assert reading.value.active is None


def test_an_active_without_a_token_serves_no_parity_a_named_state(
    fake_http: HTTPServer, tmp_path: Path
) -> None:
    fake_http.expect_request("/api/parity").respond_with_json({"error": "..."}, status=403)
    reading = run_probe(standby(fake_http, tmp_path), Deadline(10))
    url = fake_http.url_for("/api/parity")
    assert reading.error == (
        f"active exporter {url} serves no parity without api_token: set the same api_token on both"
    )


def test_a_standby_without_a_token_does_not_ask(fake_http: HTTPServer, tmp_path: Path) -> None:
    reading = run_probe(standby(fake_http, tmp_path, api_token=None), Deadline(10))
    assert reading.error == (
        "no api_token set: parity compares digests keyed by it, set the same on both"
    )
    assert fake_http.log == []


def test_the_exporter_serves_parity_only_keyed_and_only_with_a_token(
    tmp_path: Path, start_exporter: Start
) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("pushbot:{SHA}8qdPhSEP4pdHyM2VCdnzTfsEhH8=\n")
    files = {"parity_files": {"htpasswd": str(htpasswd)}}
    keyed = start_exporter(
        quiet_config(tmp_path, api_token=TOKEN, **files), ("parity",), name="keyed"
    )
    answer = requests.get(f"{keyed.url}/api/parity", headers=keyed.auth, timeout=5).json()
    (item,) = (i for i in answer["items"] if i["item"] == "htpasswd")
    key, _ = parity_key(TOKEN)
    assert item["digest"] == hmac.new(key, htpasswd.read_bytes(), hashlib.sha256).hexdigest()
    assert item["digest"] != hashlib.sha256(htpasswd.read_bytes()).hexdigest()
    assert answer["format"] == 2

    open_ = start_exporter(quiet_config(tmp_path, **files), ("parity",), name="open")
    refused = requests.get(f"{open_.url}/api/parity", timeout=5)
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "error": "parity is served only with api_token set: its digests are keyed by "
            "the token (docs/pair.md)"
        },
    )
    log = (tmp_path / "open" / "exporter.log").read_text()
    assert (
        "WARNING registry_exporter: no api_token: /api/status and /api/inventory are open to "
        f"anyone who reaches 127.0.0.1:{open_.url.rsplit(':', 1)[1]} (/api/parity is not "
        "served); set api_token (docs/configuration.md)"
    ) in log
    # no digest that outlives the process: the parity reading shows none of the file's sha256
    plain = hashlib.sha256(htpasswd.read_bytes()).hexdigest()
    assert plain not in json.dumps(open_.status())
    assert plain not in requests.get(f"{open_.url}/", timeout=5).text


def test_no_digest_of_a_reading_is_plain(tmp_path: Path) -> None:
    """The active's own verdict lines (check_registry parity -v, the status page) carry
    the keyed digests only."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("pushbot:{SHA}8qdPhSEP4pdHyM2VCdnzTfsEhH8=\n")
    probe = ParityProbe(
        Config(
            cert_file=None,
            public_url="http://127.0.0.1:9",
            api_token=TOKEN,
            parity_files={"htpasswd": htpasswd},
        )
    )
    reading: Reading[Any] = run_probe(probe, Deadline(10))
    lines = [i.text for i in judge(reading, {}).items]
    plain = hashlib.sha256(htpasswd.read_bytes()).hexdigest()
    assert not any(plain in line for line in lines)
    assert any(line.startswith("htpasswd: ") for line in lines)


def test_a_standby_names_an_active_that_serves_no_parity(
    tmp_path: Path, start_exporter: Start
) -> None:
    """Real exporters: the active without a token, the standby with one. The standby's
    parity reading says why, and its failover judgement blocks on it."""
    files = {"parity_files": {}}
    active = start_exporter(quiet_config(tmp_path, **files), name="active")
    node = quiet_config(
        tmp_path,
        role="standby",
        node="tools-docker-registry-04",
        state_dir=str(tmp_path / "standby-state"),
        active_exporter_url=active.url,
        api_token=TOKEN,
        **files,
    )
    standby = start_exporter(node, ("parity",), name="standby")
    reading = standby.probe_status("parity")
    why = f"active exporter {active.url}/api/parity serves no parity without api_token: "
    assert reading["error"] == why + "set the same api_token on both"
    assert reading["state"] == "UNKNOWN"
    text = standby.metrics_text()
    assert value(text, "registry_monitor_failover_blocker", reason="parity_mismatch") == 1
