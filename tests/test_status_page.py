"""The verdicts on the exporter's faces: /api/status and the status page in a real browser.

A live exporter on a real registry behind nginx, judged as check_registry judges;
the page is loaded by Debian's headless chromium, its rendered text read back,
its console checked for errors and a screenshot taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from threading import Event
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from testbed.browser import Browser, Rendered, chromium
from testbed.exporter import Exporter
from testbed.systemd import FakeSystemd
from tests.support.check import run_check
from tests.support.tls_reasons import cryptography_refusal

Start = Callable[..., Exporter]
NODE = "tools-docker-registry-03"
ACTIVE_PROBES = ("disk", "services", "api", "cert", "write", "storage", "sync", "pull", "parity")
# the probes run once and keep their reading for the test's length: the API and the
# page then show the very same readings
STILL = {name: 600 for name in ACTIVE_PROBES}
# levels no filesystem can cross: the healthy page must not depend on the host's disk fill
NEVER = {"warning": 100, "critical": 100}
MS = re.compile(r"\d+ ms")


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    binary = chromium()
    if binary is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return Browser(binary, tmp_path / "browser")


def node_config(registry_node: dict[str, object], **extra: Any) -> dict[str, Any]:
    thresholds = {"disk_used_percent": NEVER, "disk_inodes_used_percent": NEVER}
    return {
        **registry_node,
        "node": NODE,
        "role": "active",
        "intervals": STILL,
        **extra,
        "thresholds": {**thresholds, **extra.get("thresholds", {})},
    }


def probe(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in status["probes"] if p["probe"] == name)


HEADING = re.compile(r"[✔▲✖?] (OK|WARNING|CRITICAL|UNKNOWN) (\S+)( .*)?")


def section(page: Rendered, name: str) -> list[str]:
    """The page's lines from probe `name`'s heading to the next probe's (or the footer)."""
    headings = {i: m[2] for i, line in enumerate(page.lines) if (m := HEADING.fullmatch(line))}
    start = next(i for i, probe in headings.items() if probe == name)
    footer = next(i for i, line in enumerate(page.lines) if line.startswith("/metrics"))
    return page.lines[start : min([i for i in headings if i > start] + [footer])]


def assert_clean_render(page: Rendered) -> None:
    assert page.console == [], "the page logged errors"
    assert page.screenshot_size == (1280, 1400)
    assert page.screenshot.stat().st_size > 10_000  # a rendered page, not a blank frame
    # nothing fetched from anywhere: no scripts, images, frames or style sheets
    assert not re.search(r"<(script|img|iframe|link|object|embed)\b|url\(|@import", page.dom)
    assert set(re.findall(r'href="([^"]*)"', page.dom)) == {"/metrics", "/api/status"}


def test_healthy_node(
    registry_node: dict[str, object], start_exporter: Start, browser: Browser
) -> None:
    exporter = start_exporter(node_config(registry_node), wait_for=ACTIVE_PROBES)
    status = exporter.status()
    assert (status["state"], status["summary"]) == (
        "OK",
        f"9 probes OK ({', '.join(ACTIVE_PROBES)})",
    )
    for name in ACTIVE_PROBES:
        entry = probe(status, name)
        assert entry["state"] == "OK", entry
        assert entry["reasons"] and all(r.startswith("[OK] ") for r in entry["reasons"]), entry

    page = browser.load(exporter.url + "/", "healthy")
    assert_clean_render(page)
    # judged from the cached readings: loading the page ran no probe
    taken = [p["started_at"] for p in exporter.status()["probes"]]
    assert taken == [p["started_at"] for p in status["probes"]]
    assert page.lines[0] == f"✔ OK {NODE} (active)"
    assert (
        page.lines[1]
        == "9 probes OK (disk, services, api, cert, write, storage, sync, pull, parity)"
    )
    for name in ACTIVE_PROBES:
        lines = section(page, name)
        assert lines[0] == f"✔ OK {name} measured"
        # the reason lines, exactly as /api/status (and check_registry -v) give them
        assert lines[1:-1] == probe(status, name)["reasons"]
        assert re.fullmatch(
            r"Reading taken \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\), took \d+\.\d{3} s; "
            r"runs every 600 s\.",
            lines[-1],
        ), lines[-1]


def test_crossed_threshold_and_failed_probe_read_differently(
    registry_node: dict[str, object],
    start_exporter: Start,
    browser: Browser,
    systemd: FakeSystemd,
    tmp_path: Path,
) -> None:
    systemd.set_unit("nginx.service", "failed")  # services: CRITICAL, measured
    gone = tmp_path / "gone"  # disk and storage cannot measure: UNKNOWN
    config = node_config(
        registry_node,
        data_dir=str(gone),
        # any answer takes longer than 0 s: api crosses its warning level on any machine
        thresholds={"api_latency_seconds": {"warning": 0, "critical": 5}},
    )
    exporter = start_exporter(config, wait_for=ACTIVE_PROBES)
    status = exporter.status()

    assert status["state"] == "CRITICAL"
    assert [(p["probe"], p["state"]) for p in status["probes"]] == [
        ("disk", "UNKNOWN"),
        ("services", "CRITICAL"),
        ("api", "WARNING"),
        ("cert", "OK"),
        ("write", "OK"),
        ("storage", "UNKNOWN"),
        ("sync", "OK"),  # the unit not installed on the active: fine there
        ("pull", "OK"),
        ("parity", "OK"),
    ]
    disk_error = f"data directory {gone} does not exist"  # storage's error too
    assert probe(status, "disk")["reasons"] == [f"[UNKNOWN] {disk_error}"]
    assert probe(status, "disk")["error"] == disk_error
    api = probe(status, "api")
    backend, public = registry_node["backend_url"], registry_node["public_url"]
    assert [MS.sub("N ms", r) for r in api["reasons"] if not r.startswith("[OK]")] == [
        f"[WARNING] backend {backend}/v2/ answered HTTP 200 in N ms (warning > 0)",
        f"[WARNING] public {public}/v2/ answered HTTP 200 in N ms (warning > 0)",
    ]
    # the order `check_registry all` gives: worst first, the UNKNOWNs last
    assert MS.sub("N ms", status["summary"]) == (
        "services: nginx.service failed (failed); "
        f"api: backend {backend}/v2/ answered HTTP 200 in N ms (warning > 0); "
        f"api: public {public}/v2/ answered HTTP 200 in N ms (warning > 0); "
        f"disk: {disk_error}; storage: {disk_error}"
    )
    # one judgement: check_registry -v on the same node prints the same reason lines
    check = run_check(exporter.config_path, "services", "-v")
    assert (check.state, check.long) == ("CRITICAL", probe(status, "services")["reasons"])
    check = run_check(exporter.config_path, "disk", "-v")
    assert (check.state, check.long) == ("UNKNOWN", probe(status, "disk")["reasons"])

    page = browser.load(exporter.url + "/", "crossed")
    assert_clean_render(page)
    assert page.lines[0] == f"✖ CRITICAL {NODE} (active)"
    # the summary's items, one line each, as `check_registry all -v` prints them
    assert [MS.sub("N ms", line) for line in page.lines[1:6]] == [
        "[CRITICAL] services: nginx.service failed (failed)",
        f"[WARNING] api: backend {backend}/v2/ answered HTTP 200 in N ms (warning > 0)",
        f"[WARNING] api: public {public}/v2/ answered HTTP 200 in N ms (warning > 0)",
        f"[UNKNOWN] disk: {disk_error}",
        f"[UNKNOWN] storage: {disk_error}",
    ]
    assert page.lines[6].startswith("Judged ")
    # a probe that could not measure and one that measured a problem say so in words
    assert section(page, "disk")[:2] == [
        "? UNKNOWN disk probe failed: could not measure",
        f"[UNKNOWN] {disk_error}",
    ]
    assert section(page, "services")[0] == "✖ CRITICAL services measured: problem found"
    assert section(page, "services")[1:-1] == probe(status, "services")["reasons"]
    assert section(page, "api")[0] == "▲ WARNING api measured: problem found"
    assert section(page, "api")[1:-1] == api["reasons"]
    assert section(page, "cert")[0] == "✔ OK cert measured"
    assert section(page, "storage")[0] == "? UNKNOWN storage probe failed: could not measure"
    # and the frame differs too, not the colour alone
    assert 'class="probe st-unknown m-failed" id="probe-disk"' in page.dom
    assert 'class="probe st-critical m-measured" id="probe-services"' in page.dom


def test_a_probe_not_run_yet_is_unknown_and_so_is_the_node(
    registry_node: dict[str, object], start_exporter: Start, fake_http: HTTPServer, browser: Browser
) -> None:
    """Until its first reading a probe is UNKNOWN, and counts as one in the node's state."""
    release = Event()

    def hang(_: Request) -> Response:
        release.wait(30)
        return Response("{}")

    fake_http.expect_request("/v2/").respond_with_handler(hang)
    config = node_config(
        registry_node,
        public_url=fake_http.url_for("").rstrip("/"),
        public_connect=None,
        canary_images=[],  # nothing for the pull probe to fetch from the fake
        timeouts={"api": 25},
    )
    try:
        exporter = start_exporter(config, wait_for=("disk", "services", "cert", "write", "storage"))
        status = exporter.status()
        api = probe(status, "api")
        reason = "no reading yet: the probe has not finished its first run"
        assert (api["state"], api["reasons"], api["ok"]) == (
            "UNKNOWN",
            [f"[UNKNOWN] {reason}"],
            None,
        )
        # the certificate on disk names registry.test, not the fake's 127.0.0.1: a known
        # CRITICAL, which the UNKNOWN of the probe without a reading does not mask
        cert_file = Path(str(registry_node["cert_file"]))
        why = cryptography_refusal(cert_file, "127.0.0.1", Path(str(registry_node["ca_file"])))
        assert (status["state"], status["summary"]) == (
            "CRITICAL",
            f"cert: {cert_file} is not valid: {why}; "
            f"cert: {cert_file} does not cover 127.0.0.1 "
            f"(its names: registry.test); api: {reason}; "
            "pull: no canary_images configured: nothing to pull",
        )
        page = browser.load(exporter.url + "/", "pending")
        assert page.console == []
        assert section(page, "api") == [
            "? UNKNOWN api not run yet",
            f"[UNKNOWN] {reason}",
            "No reading yet; runs every 600 s.",
        ]
    finally:
        release.set()


def test_page_escapes_what_it_shows(
    registry_node: dict[str, object], start_exporter: Start, browser: Browser
) -> None:
    """A node name with markup is shown as text: nothing loads, nothing runs."""
    node = "<img src=x onerror=\"console.error('ran')\">&"
    exporter = start_exporter(node_config(registry_node, node=node), wait_for=("disk",))
    page = browser.load(exporter.url + "/", "escaped")
    assert page.console == []
    assert page.lines[0].endswith(f" {node} (active)")
    assert "<img" not in page.dom
