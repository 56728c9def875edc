"""/api/inventory of the real exporter: token, gzip, ETag and 304, and 503 without a scan."""

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from exporter.inventory_api import accepts_gzip, etag_matches, inventory_response
from registry_monitor.probes.reading import Reading
from registry_monitor.storage import inventory_wire
from registry_monitor.storage.inventory_wire import MEDIA_TYPE, decode
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.registry import Registry

Start = Callable[..., Exporter]
AUTH = {"Authorization": "Bearer s3cret-0123456789"}


def config(data_dir: Path, **extra: Any) -> dict[str, Any]:
    return {
        "node": "registry-a",
        "data_dir": str(data_dir),
        "cert_file": None,
        "write_probe": False,
        "api_token": "s3cret-0123456789",
        "intervals": {"storage": 0.5},
        "timeouts": {"storage": 0.5},
        **extra,
    }


def get(exporter: Exporter, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{exporter.url}/api/inventory", headers=headers, timeout=5, stream=True)


def test_token_gzip_etag_and_304(registry: Registry, start_exporter: Start) -> None:
    image = Pusher(registry.url).push_image("toolforge/python311", "latest")
    exporter = start_exporter(config(registry.data_dir), wait_for=("storage",))

    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = get(exporter, headers)
        assert (refused.status_code, refused.json(), refused.headers["WWW-Authenticate"]) == (
            401,
            {"detail": "bearer token required"},
            "Bearer",
        )

    zipped = get(exporter, {**AUTH, "Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Type"] == MEDIA_TYPE
    assert zipped.headers["Content-Encoding"] == "gzip"
    etag = zipped.headers["ETag"]
    raw = zipped.raw.read(decode_content=False)
    inventory = decode([raw], gzipped=True, max_bytes=10**6)
    assert etag == f'W/"{inventory_wire.etag(inventory)}"'
    assert int(zipped.headers["Age"]) >= 0
    assert (inventory.node, inventory.role) == ("registry-a", "active")
    tags = inventory.repositories["toolforge/python311"]
    assert (tags.tag_names(), tags.digests) == (["latest"], bytes.fromhex(image.digest[7:]))
    assert len(inventory.blobs) == 3

    plain = get(exporter, {**AUTH, "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    body = plain.raw.read()
    assert hashlib.sha256(body).hexdigest() == inventory_wire.etag(inventory)
    assert plain.headers["ETag"] == etag

    unchanged = get(exporter, {**AUTH, "If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert (unchanged.status_code, unchanged.raw.read()) == (304, b"")
    assert unchanged.headers["ETag"] == etag
    wire = len("HTTP/1.1 304 Not Modified\r\n") + sum(
        len(k) + len(v) + 4 for k, v in unchanged.headers.items()
    )
    assert wire < 1024

    Pusher(registry.url).push_image("toolforge/python311", "v2")
    pushed = time.time()
    exporter.wait_reading("storage", newer_than=pushed)
    changed = get(exporter, {**AUTH, "If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    again = decode([changed.raw.read(decode_content=False)], gzipped=True, max_bytes=10**6)
    assert again.repositories["toolforge/python311"].tag_names() == ["latest", "v2"]


def test_failed_scan_is_a_503_with_the_reason(tmp_path: Path, start_exporter: Start) -> None:
    missing = tmp_path / "no-data"
    exporter = start_exporter(config(missing), wait_for=("storage",))
    resp = get(exporter, AUTH)
    assert (resp.status_code, resp.json()) == (
        503,
        {
            "error": "the last storage scan failed, no current inventory: "
            f"data directory {missing} does not exist"
        },
    )


def test_no_scan_yet_is_a_503() -> None:
    resp = inventory_response(None, {})
    assert (resp.status_code, resp.body, resp.headers["Retry-After"]) == (
        503,
        b'{"error":"no storage scan has finished yet; the inventory exists after the first"}',
        "30",
    )
    failed: Reading[None] = Reading("storage", 0.0, 0.1, None, "timed out after 240s")
    assert inventory_response(failed, {}).status_code == 503


def test_header_parsing() -> None:
    assert accepts_gzip("gzip, deflate") and accepts_gzip("br;q=1, gzip;q=0.5")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("identity") and not accepts_gzip("")
    assert etag_matches('W/"abc"', 'W/"abc"') and etag_matches('"x", "abc"', 'W/"abc"')
    assert etag_matches("*", 'W/"abc"') and not etag_matches('W/"abd"', 'W/"abc"')
    assert not etag_matches(None, 'W/"abc"')
