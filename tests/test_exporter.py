"""The exporter as operators run it: its console script, real registry, real promtool."""

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from tests.support.metrics import names, value
from tests.support.nodes import base_config
from tests.support.reasons import msgspec_reason

Start = Callable[..., Exporter]


@pytest.fixture
def healthy(registry: Registry, systemd: FakeSystemd) -> Registry:
    systemd.set_unit("docker-registry.service", started_at=time.time() - 30)
    systemd.set_unit("nginx.service", started_at=time.time() - 30)
    Pusher(registry.url).push_image("toolforge-base", "latest")
    return registry


def test_metrics_of_a_healthy_registry(healthy: Registry, start_exporter: Start) -> None:
    exporter = start_exporter(
        base_config(healthy), wait_for=("disk", "services", "api", "write", "cert")
    )
    text = exporter.metrics_text()
    assert (
        value(text, "registry_monitor_node_info", node="tools-docker-registry-03", role="active")
        == 1
    )
    assert value(text, "registry_monitor_build_info", version="0.1.0") == 1
    for probe in ("disk", "services", "api", "write", "cert"):
        assert value(text, "registry_monitor_probe_success", probe=probe) == 1, probe
        assert (
            value(text, "registry_monitor_probe_last_run_timestamp_seconds", probe=probe)
            > time.time() - 60
        )
    for endpoint in ("backend", "public"):
        assert value(text, "registry_monitor_api_up", endpoint=endpoint) == 1
        assert value(text, "registry_monitor_api_status_code", endpoint=endpoint) == 200
        assert value(text, "registry_monitor_catalog_up", endpoint=endpoint) == 1
        # the write canary's repository is in the catalog too
        assert value(text, "registry_monitor_catalog_repositories", endpoint=endpoint) in (1, 2)
        assert value(text, "registry_monitor_catalog_pages", endpoint=endpoint) == 1
        assert (
            value(
                text,
                "registry_monitor_manifest_up",
                endpoint=endpoint,
                image="toolforge-base:latest",
            )
            == 1
        )
    assert value(text, "registry_monitor_write_up", endpoint="backend") == 1
    assert value(text, "registry_monitor_service_active", unit="docker-registry.service") == 1
    assert value(text, "registry_monitor_service_state", unit="nginx.service", state="active") == 1
    assert value(text, "registry_monitor_service_state", unit="nginx.service", state="failed") == 0
    assert (
        value(text, "registry_monitor_service_load_state", unit="nginx.service", state="loaded")
        == 1
    )
    assert value(text, "registry_monitor_service_restarts_total", unit="nginx.service") == 0
    fs = [n for n in names(text) if n.startswith("registry_monitor_filesystem_")]
    assert sorted(fs) == [
        "registry_monitor_filesystem_avail_bytes",
        "registry_monitor_filesystem_files",
        "registry_monitor_filesystem_files_free",
        "registry_monitor_filesystem_free_bytes",
        "registry_monitor_filesystem_readonly",
        "registry_monitor_filesystem_size_bytes",
    ]
    assert f'path="{healthy.data_dir}"' in text
    # no default process/platform collectors on the dedicated registry
    assert not [n for n in names(text) if n.startswith(("process_", "python_"))]


def test_promtool_finds_nothing_to_lint(healthy: Registry, start_exporter: Start) -> None:
    exporter = start_exporter(
        base_config(healthy), wait_for=("disk", "services", "api", "write", "cert")
    )
    done = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exporter.metrics_text(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_stopped_registry_scrape_stays_fast_and_says_down(
    healthy: Registry, start_exporter: Start
) -> None:
    exporter = start_exporter(
        base_config(
            healthy, intervals={"api": 0.5, "write": 0.5}, timeouts={"api": 0.5, "write": 0.5}
        ),
        wait_for=("api",),
    )
    healthy.stop()
    stopped_at = time.time()
    exporter.wait_reading("api", newer_than=stopped_at)
    exporter.wait_reading("write", newer_than=stopped_at)
    resp = requests.get(f"{exporter.url}/metrics", timeout=1)
    assert resp.status_code == 200
    assert value(resp.text, "registry_monitor_api_up", endpoint="backend") == 0
    assert value(resp.text, "registry_monitor_api_status_code", endpoint="backend") == 0
    assert value(resp.text, "registry_monitor_catalog_up", endpoint="backend") == 0
    assert value(resp.text, "registry_monitor_write_up", endpoint="backend") == 0
    assert (
        value(resp.text, "registry_monitor_probe_success", probe="api") == 1
    )  # measured: it is down
    status = exporter.probe_status("api")
    assert status["value"]["endpoints"][0]["error"] == "connection refused"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_hanging_public_endpoint_never_blocks_a_scrape(
    healthy: Registry, start_exporter: Start, fake_http: HTTPServer, release: threading.Event
) -> None:
    entered = threading.Event()

    def hang(_: Request) -> Response:
        entered.set()
        release.wait(30)
        return Response("{}")

    fake_http.expect_request("/v2/").respond_with_handler(hang)
    exporter = start_exporter(
        base_config(healthy, public_url=fake_http.url_for("").rstrip("/"), timeouts={"api": 8}),
        wait_for=("disk",),
    )
    assert entered.wait(10)
    for _ in range(5):  # while the api probe is stuck on the hanging endpoint
        resp = requests.get(f"{exporter.url}/metrics", timeout=1)
        assert resp.status_code == 200
        assert value(resp.text, "registry_monitor_probe_success", probe="disk") == 1


def test_status_endpoints(healthy: Registry, start_exporter: Start) -> None:
    exporter = start_exporter(
        base_config(healthy), wait_for=("disk", "services", "api", "write", "cert")
    )
    status = exporter.status()
    assert (status["node"], status["role"], status["version"]) == (
        "tools-docker-registry-03",
        "active",
        "0.1.0",
    )
    assert [p["probe"] for p in status["probes"]] == [
        "disk",
        "services",
        "api",
        "cert",
        "write",
        "storage",
        "sync",
        "pull",
        "parity",
    ]
    disk = status["probes"][0]
    assert (disk["ok"], disk["error"], disk["interval_seconds"]) == (True, None, 15)
    assert disk["value"]["path"] == str(healthy.data_dir)
    page = requests.get(exporter.url + "/", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<section class="probe st-unknown m-measured" id="probe-cert">' in page.text
    # judged as check_registry judges: a node without https and cert_file has no certificate
    cert = status["probes"][3]
    reason = "no certificate to check: public_url is not https, cert_file null"
    assert (cert["state"], cert["summary"], cert["reasons"]) == (
        "UNKNOWN",
        reason,
        [f"[UNKNOWN] {reason}"],
    )
    assert requests.get(exporter.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_failing_probe_logs_once_per_state_change(
    registry: Registry, start_exporter: Start, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    exporter = start_exporter(
        base_config(registry, data_dir=str(data), intervals={"disk": 0.2}, timeouts={"disk": 0.2}),
        wait_for=("disk",),
    )
    data.rmdir()
    gone = time.time()
    for _ in range(3):
        gone = exporter.wait_reading("disk", newer_than=gone)["started_at"]
    data.mkdir()
    exporter.wait_reading("disk", newer_than=time.time())
    exporter.stop()
    log = (tmp_path / "exporter" / "exporter.log").read_text()
    assert log.count(f"probe disk failing: data directory {data} does not exist") == 1
    assert log.count("probe disk recovered") == 1


def test_sigterm_shuts_down_cleanly(healthy: Registry, start_exporter: Start) -> None:
    exporter = start_exporter(base_config(healthy), wait_for=("disk",))
    proc = exporter.daemon.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_bad_config_stops_start_up_with_file_and_key(tmp_path: Path) -> None:
    from testbed.exporter import exporter_argv

    path = tmp_path / "bad.yaml"
    path.write_text("role: active\nthresholds:\n  disk_used_percent: {warning: high}\n")
    done = subprocess.run(
        [*exporter_argv(), "--config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"registry-exporter: {path}: invalid configuration:",
        "  thresholds.disk_used_percent.warning: "
        + msgspec_reason("thresholds", {"disk_used_percent": {"warning": "high"}})
        + " (got 'high')",
    ]


def test_large_request_bodies_are_refused(healthy: Registry, start_exporter: Start) -> None:
    exporter = start_exporter(base_config(healthy), wait_for=("disk",))
    resp = requests.post(f"{exporter.url}/metrics", data=b"x" * (65 * 1024), timeout=5)
    assert (resp.status_code, resp.json()) == (413, {"detail": "request body too large"})
    assert requests.post(f"{exporter.url}/metrics", data=b"x", timeout=5).status_code == 405


def test_credentials_in_urls_stay_out_of_status_and_logs(
    healthy: Registry, start_exporter: Start, tmp_path: Path
) -> None:
    with_secret = healthy.url.replace("http://", "http://monitor:hunter2secret@")
    exporter = start_exporter(base_config(healthy, public_url=with_secret), wait_for=("api",))
    status = requests.get(f"{exporter.url}/api/status", timeout=5).text
    assert "hunter2secret" not in status
    assert healthy.url in status
    assert "hunter2secret" not in exporter.metrics_text()
    assert "hunter2secret" not in requests.get(f"{exporter.url}/", timeout=5).text
    exporter.stop()
    assert "hunter2secret" not in (tmp_path / "exporter" / "exporter.log").read_text()
