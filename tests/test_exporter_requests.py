"""How the real exporter reads a request: its Authorization header and its path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from testbed.exporter import Exporter
from tests.support.nodes import quiet_config

Start = Callable[..., Exporter]


@pytest.fixture
def exporter(tmp_path: Path, start_exporter: Start) -> Exporter:
    return start_exporter(quiet_config(tmp_path, api_token="s3cret-0123456789"))


def test_the_auth_scheme_is_bearer_in_any_case_and_required(exporter: Exporter) -> None:
    given = {
        "Bearer s3cret-0123456789": 200,
        "bearer s3cret-0123456789": 200,  # RFC 9110: auth schemes are case-insensitive
        "BEARER   s3cret-0123456789": 200,
        "s3cret-0123456789": 401,  # no scheme
        "Basic s3cret-0123456789": 401,
        "Bearer": 401,
        "Bearers3cret-0123456789": 401,
        "Bearer s3cret-0123456789 extra": 401,
        "Bearer wrong": 401,
    }
    for header, status in given.items():
        resp = requests.get(
            f"{exporter.url}/api/status", headers={"Authorization": header}, timeout=5
        )
        assert resp.status_code == status, header
        if status == 401:
            assert resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/api/status/", "/api/inventory/", "/metrics/"])
def test_a_trailing_slash_is_not_found_not_a_redirect_to_the_host_header(
    exporter: Exporter, path: str
) -> None:
    resp = requests.get(
        f"{exporter.url}{path}",
        headers={"Host": "evil.example"},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 404
    assert "Location" not in resp.headers
