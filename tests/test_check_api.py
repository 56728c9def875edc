"""check_registry api on the real registry behind real nginx; a fake one only to hang."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from tests.conftest import REGISTRY_NAME
from tests.support.check import run_check, run_raw, write_config

NAME = REGISTRY_NAME  # the name the `front` fixture serves
CANARY = "toolforge-python311-sssd-base:latest"


def config(
    tmp_path: Path, registry: Registry, front: Nginx, ca_file: Path, **extra: object
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "data_dir": str(registry.data_dir),
            "backend_url": registry.url,
            "public_url": f"https://{NAME}",
            "public_connect": front.connect,
            "ca_file": str(ca_file),
            "cert_file": str(front.cert),
            "canary_images": [CANARY],
            **extra,
        },
    )


def test_healthy_registry_through_nginx(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    pushed = Pusher(registry.url).push_image(*CANARY.split(":"))
    run = run_check(config(tmp_path, registry, front, ca_file), "api", "-v")
    assert (run.exit_code, run.state) == (0, "OK")
    assert run.text.startswith("backend up in ")
    assert run.text.endswith(" ms, 1 repository, 2/2 canary manifests present")
    *probed, name = run.long
    # registry.test is reserved: it never resolves (the resolver's words vary by host)
    assert name.startswith(f"[OK] public name {NAME} does not resolve (")
    assert name.endswith(") (public_addresses not set: not judged)")
    assert [line.split(" in ")[0] for line in probed] == [
        f"[OK] backend {registry.url}/v2/ answered HTTP 200",
        "[OK] backend catalog: 1 repository",
        f"[OK] backend canary {CANARY} present ({pushed.digest})",
        f"[OK] public https://{NAME}/v2/ answered HTTP 200",
        "[OK] public catalog: 1 repository",
        f"[OK] public https://{NAME}: anonymous push refused (HTTP 401)",
        f"[OK] public canary {CANARY} present ({pushed.digest})",
    ]
    assert run.perf("anonymous_push_refused").value == 1
    for endpoint in ("backend", "public"):
        assert run.perf(f"{endpoint}_up").value == 1
        assert run.perf(f"{endpoint}_repositories").value == 1
        assert run.perf(f"{endpoint}_catalog_up").value == 1
        assert run.perf(f"{endpoint}_canary_{CANARY}").warn == "1:"
        latency = run.perf(f"{endpoint}_latency")
        assert (latency.uom, latency.warn, latency.crit, latency.min) == ("s", "2", "5", 0)
        assert 0 < latency.value < 5


def test_missing_canary_is_a_warning(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    Pusher(registry.url).push_image("other", "v1")
    run = run_check(config(tmp_path, registry, front, ca_file), "api")
    assert (run.exit_code, run.state, run.text) == (
        1,
        "WARNING",
        f"backend canary {CANARY} missing (not found); public canary {CANARY} missing (not found)",
    )
    assert run.perf(f"public_canary_{CANARY}").value == 0


def test_stopped_registry_is_critical(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    registry.stop()
    run = run_check(config(tmp_path, registry, front, ca_file), "api")
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"backend {registry.url}/v2/ down: connection refused; "
        f"public https://{NAME}/v2/ down: GET /v2/ answered HTTP 502",
    )
    assert (run.perf("backend_up").value, run.perf("public_up").value) == (0, 0)
    assert "backend_latency" not in run.output.perfdata  # no answer, no latency


def test_latency_thresholds_override_the_config(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    cfg = config(tmp_path, registry, front, ca_file, canary_images=[])
    warn = run_check(cfg, "api", "-w", "0")
    assert (warn.exit_code, warn.state) == (1, "WARNING")
    assert warn.text.startswith(f"backend {registry.url}/v2/ answered HTTP 200 in ")
    assert warn.text.endswith(" ms (warning > 0)")
    crit = run_check(cfg, "api", "-c", "0:0.000001")
    assert (crit.exit_code, crit.state) == (2, "CRITICAL")
    assert crit.perf("public_latency").crit == "0.000001"
    assert run_check(cfg, "api", "-w", "60", "-c", "120").state == "OK"


# --- what only a fake registry can show: an endpoint that never answers ---------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def hanging(
    http: HTTPServer, release: threading.Event, tmp_path: Path, timeout: float, drip: bool = False
) -> Path:
    """/v2/ never answers; with drip, it answers one byte at a time, forever."""

    def hang(_: Request) -> Response:
        release.wait(60)
        return Response("{}", headers={"Docker-Distribution-Api-Version": "registry/2.0"})

    def dripping(_: Request) -> Response:
        def body() -> Iterator[bytes]:
            while not release.wait(0.05):  # keeps every socket read inside its time-out
                yield b" "

        headers = {"Docker-Distribution-Api-Version": "registry/2.0", "Content-Length": "60000"}
        return Response(body(), headers=headers)

    http.expect_request("/v2/").respond_with_handler(dripping if drip else hang)
    url = http.url_for("").rstrip("/")
    return write_config(
        tmp_path / "config.yaml",
        {
            "data_dir": str(tmp_path),
            "backend_url": url,
            "public_url": url,
            "cert_file": None,
            "timeouts": {"api": timeout},
        },
    )


STUCK_OPEN = """
import os, time

_open = os.open


def _stuck_open(path, flags, mode=0o777, *, dir_fd=None):
    if os.fspath(path) == {path!r}:
        time.sleep(3600)  # a read that never returns, as on a hung network filesystem
    return _open(path, flags, mode, dir_fd=dir_fd)


os.open = _stuck_open
"""


def stuck_cert(config: Path) -> tuple[Path, dict[str, str]]:
    """The config with a cert_file whose open() never returns, and the environment that
    makes it so (sitecustomize on PYTHONPATH): a hung filesystem, which no FIFO can play
    since every read refuses what is not a regular file."""
    cert = config.parent / "stuck.crt"
    cert.write_text("never read\n")
    site = config.parent / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(STUCK_OPEN.format(path=str(cert)))
    doc = yaml.safe_load(config.read_text())
    return write_config(config, {**doc, "cert_file": str(cert)}), {"PYTHONPATH": str(site)}


def test_run_time_out_names_the_stuck_probe(
    fake_http: HTTPServer, release: threading.Event, tmp_path: Path
) -> None:
    """A probe stuck in a system call past -t: UNKNOWN (3), naming it."""
    config, env = stuck_cert(hanging(fake_http, release, tmp_path, timeout=10))
    run = run_check(config, "cert", "-t", "1", env=env)
    assert (run.exit_code, run.state, run.text) == (
        3,
        "UNKNOWN",
        "timed out after 1s waiting for cert",
    )
    assert run.output.perfdata == {}
    done = run_raw(f"--config={config}", "cert", "-t", "1", "--json", env=env)
    doc = json.loads(done.stdout)
    assert (done.returncode, doc["state"], doc["timed_out"], doc["probes"]) == (
        3,
        "UNKNOWN",
        {"after_seconds": 1.0, "waiting_for": ["cert"]},
        [],
    )


def test_a_registry_dripping_its_answer_is_critical_within_t(
    fake_http: HTTPServer, release: threading.Event, tmp_path: Path
) -> None:
    """A body fed one byte at a time: each call ends by the probe's deadline as a whole."""
    config = hanging(fake_http, release, tmp_path, timeout=10, drip=True)
    run = run_check(config, "api", "-t", "1.5")
    url = fake_http.url_for("").rstrip("/")
    assert (run.exit_code, run.text) == (
        2,
        f"backend {url}/v2/ down: read timed out; public {url}/v2/ down: read timed out",
    )


def test_run_time_out_in_all_names_only_the_stuck_probes(
    fake_http: HTTPServer, release: threading.Event, tmp_path: Path, systemd: FakeSystemd
) -> None:
    systemd.set_unit("docker-registry.service")
    systemd.set_unit("nginx.service")
    systemd.set_unit("rsync.service")
    # -t 6: time enough for the other probes on a loaded machine; the api probe's own
    # time-out is cut to end inside it, so the probes reading the stuck cert_file (cert,
    # and parity for its fingerprint) are the ones left running
    config, env = stuck_cert(hanging(fake_http, release, tmp_path, timeout=10, drip=True))
    run = run_check(config, "all", "-t", "6", "-v", env=env)
    assert (run.exit_code, run.text) == (3, "timed out after 6s waiting for cert, parity")
    # what did finish is still shown in the long output (the fake answers a push with 500)
    assert "[OK] services: docker-registry.service active (running)" in " ".join(run.long)
    assert any(line.startswith("[OK] disk: ") for line in run.long)
    assert any(line.startswith("[CRITICAL] write: blob push") for line in run.long)
    assert any(line.startswith("[CRITICAL] api: backend ") for line in run.long)


def test_no_answer_within_the_probes_own_time_out_is_critical(
    fake_http: HTTPServer, release: threading.Event, tmp_path: Path
) -> None:
    """The registry not answering in time is a finding about the registry, not the plugin."""
    run = run_check(hanging(fake_http, release, tmp_path, timeout=0.5), "api", "-t", "10")
    url = fake_http.url_for("").rstrip("/")
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"backend {url}/v2/ down: read timed out; public {url}/v2/ down: read timed out",
    )


def test_a_silent_registry_is_critical_even_when_its_time_out_exceeds_t(
    fake_http: HTTPServer, release: threading.Event, tmp_path: Path
) -> None:
    """timeouts.api 25 s with -t 10: the probe is cut to 9 s, to fit the run with a 1 s margin
    (10 %) that a loaded machine does not eat, and still reports the finding."""
    run = run_check(hanging(fake_http, release, tmp_path, timeout=25), "api", "-t", "10")
    url = fake_http.url_for("").rstrip("/")
    assert (run.exit_code, run.text) == (
        2,
        f"backend {url}/v2/ down: read timed out; public {url}/v2/ down: read timed out",
    )


def test_api_takes_no_inode_thresholds(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.yaml", {"data_dir": str(tmp_path)})
    run = run_check(cfg, "api", "-K", "5")
    assert (run.exit_code, run.text) == (
        3,
        "api does not take -K: -w/-c are the /v2/ latency in seconds (see check_registry --help)",
    )
