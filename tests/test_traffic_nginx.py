"""Real nginx with the documented log_format in front of the real registry: real pulls and
pushes, counted from the access log exactly, across stops, rotations and restarts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from registry_monitor.base import Deadline
from registry_monitor.config import AccessLog, Config
from registry_monitor.probes.traffic import TrafficProbe, TrafficStatus
from testbed.certs import issue
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.waiting import wait_until
from tests.support.check import run_check, write_config
from tests.support.metrics import value

pytestmark = pytest.mark.daemons
NAME = "docker-registry.test"


@dataclass
class Front:
    nginx: Nginx
    registry: Registry
    client: Pusher
    config: Config

    @property
    def log(self) -> Path:
        return self.nginx.access_log


@pytest.fixture
def front(registry: Registry, ca: trustme.CA, ca_file: Path, tmp_path: Path) -> Iterator[Front]:
    cert = issue(ca, tmp_path / "live", NAME, "127.0.0.1", days=30)
    nginx = Nginx(
        tmp_path / "nginx", registry.url, NAME, cert.cert, cert.key, log_format="registry_monitor"
    ).start()
    try:
        client = Pusher(
            f"https://127.0.0.1:{nginx.port}", verify=str(ca_file), auth=nginx.credentials
        )
        config = Config(
            access_log=AccessLog(path=nginx.access_log, format="registry_monitor"),
            state_dir=tmp_path / "state",
        )
        yield Front(nginx, registry, client, config)
    finally:
        nginx.stop()


def traffic_probe(config: Config) -> TrafficProbe:
    return TrafficProbe(config)


def read_until(probe: TrafficProbe, lines: int) -> TrafficStatus:
    """Run the probe until it has counted `lines` lines in all (nginx logs at request end)."""

    def counted() -> TrafficStatus | None:
        status = probe(Deadline(5))
        assert isinstance(status, TrafficStatus)
        seen = status.counts.lines_parsed + status.counts.lines_skipped
        assert seen <= lines, f"{seen} lines counted, expected {lines}"
        return status if seen == lines else None

    return wait_until(counted, 10, f"{lines} access log lines counted")


def push_and_pull(client: Pusher, repository: str) -> None:
    """14 requests: a HEAD of a missing blob, a push of an image (config and one layer), a
    pull of it, its tags, the catalog and a missing manifest."""
    client.blob_exists(repository, "sha256:" + "0" * 64)  # HEAD blob: 404, normal protocol flow
    client.push_image(repository, "v1")  # 2 x (POST 202, PUT 201), PUT manifest 201
    client.pull_image(repository, "v1")  # GET /v2/, HEAD manifest, GET manifest, 2 x GET blob
    tags = client.session.get(f"{client.base}/v2/{repository}/tags/list", timeout=5)
    catalog = client.session.get(f"{client.base}/v2/_catalog", timeout=5)
    missing = client.session.get(f"{client.base}/v2/{repository}/manifests/nope", timeout=5)
    assert (tags.status_code, catalog.status_code, missing.status_code) == (200, 200, 404)


PUSH_AND_PULL = {
    ("blob", "HEAD", "404"): 1,
    ("blob_upload", "POST", "202"): 2,
    ("blob_upload", "PUT", "201"): 2,
    ("manifest", "PUT", "201"): 1,
    ("base", "GET", "200"): 1,
    ("manifest", "HEAD", "200"): 1,
    ("manifest", "GET", "200"): 1,
    ("blob", "GET", "200"): 2,
    ("tags", "GET", "200"): 1,
    ("catalog", "GET", "200"): 1,
    ("manifest", "GET", "404"): 1,
}
PER_ROUND = sum(PUSH_AND_PULL.values())


def times(n: int) -> dict[tuple[str, str, str], int]:
    return {k: v * n for k, v in PUSH_AND_PULL.items()}


def test_pushes_and_pulls_are_counted_by_route_and_code_exactly(front: Front) -> None:
    probe = traffic_probe(front.config)
    before = read_until(probe, 0)
    assert before.counts.requests == {}
    push_and_pull(front.client, "tools/toolforge-python311")
    status = read_until(probe, PER_ROUND)
    counts = status.counts
    assert counts.requests == PUSH_AND_PULL
    assert counts.lines_skipped == 0
    assert counts.upstream_errors == dict.fromkeys(
        ("blob", "blob_upload", "manifest", "base", "tags", "catalog"), 0
    )
    # durations for every (route, method), each request in exactly one bucket
    assert {k: h.count for k, h in counts.durations.items()} == {
        ("blob", "HEAD"): 1,
        ("blob_upload", "POST"): 2,
        ("blob_upload", "PUT"): 2,
        ("manifest", "PUT"): 1,
        ("base", "GET"): 1,
        ("manifest", "HEAD"): 1,
        ("manifest", "GET"): 2,
        ("blob", "GET"): 2,
        ("tags", "GET"): 1,
        ("catalog", "GET"): 1,
    }
    # the bytes of both blobs' GET bodies are in the blob route's total
    assert counts.response_bytes["blob"] >= len(b"layer of tools/toolforge-python311:v1")
    assert status.last_line_time is not None
    # no repository name ever becomes a label value
    assert not any("toolforge" in "".join(k) for k in counts.requests)


def test_a_stopped_registry_gives_502s_counted_as_upstream_errors(front: Front) -> None:
    probe = traffic_probe(front.config)
    read_until(probe, 0)
    front.registry.stop()
    for _ in range(3):
        resp = front.client.session.get(f"{front.client.base}/v2/", timeout=5)
        assert resp.status_code == 502
    resp = front.client.session.get(f"{front.client.base}/v2/a/manifests/latest", timeout=5)
    assert resp.status_code == 502
    counts = read_until(probe, 4).counts
    assert counts.requests == {("base", "GET", "502"): 3, ("manifest", "GET", "502"): 1}
    assert counts.upstream_errors == {"base": 3, "manifest": 1}


def inode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def ping_until_new_file_written(front: Front) -> int:
    """GET /v2/ until a line lands in the new file: workers reopen a moment after the master."""
    sent = 0

    def written() -> bool:
        nonlocal sent
        front.client.session.get(f"{front.client.base}/v2/", timeout=5)
        sent += 1
        return front.log.stat().st_size > 0

    wait_until(written, 10, "nginx's worker to write the reopened access.log")
    return sent


def test_rotation_by_rename_and_usr1_loses_and_doubles_nothing(front: Front) -> None:
    probe = traffic_probe(front.config)
    read_until(probe, 0)
    push_and_pull(front.client, "before")
    read_until(probe, PER_ROUND)
    front.log.rename(front.log.with_name("access.log.1"))  # logrotate's rename
    push_and_pull(front.client, "between")  # nginx still writes the renamed file
    read_until(probe, 2 * PER_ROUND)
    front.nginx.reopen_logs()  # postrotate: USR1
    wait_until(front.log.exists, 10, "nginx to reopen access.log")
    push_and_pull(front.client, "after")
    pings = ping_until_new_file_written(front)
    status = read_until(probe, 3 * PER_ROUND + pings)
    expected = times(3)
    expected["base", "GET", "200"] += pings
    assert status.counts.requests == expected
    assert status.rotations == 1
    assert probe.follower.position == (*inode(front.log), front.log.stat().st_size)


def test_rotation_by_rename_read_in_one_go_after_usr1(front: Front) -> None:
    """Lines left in the renamed file are read before the new file, also when both wait."""
    probe = traffic_probe(front.config)
    read_until(probe, 0)
    front.log.rename(front.log.with_name("access.log.1"))
    push_and_pull(front.client, "between")
    front.nginx.reopen_logs()
    wait_until(front.log.exists, 10, "nginx to reopen access.log")
    pings = ping_until_new_file_written(front)
    push_and_pull(front.client, "after")
    expected = times(2)
    expected["base", "GET", "200"] += pings
    assert read_until(probe, 2 * PER_ROUND + pings).counts.requests == expected


def test_copytruncate_loses_and_doubles_nothing(front: Front) -> None:
    probe = traffic_probe(front.config)
    read_until(probe, 0)
    push_and_pull(front.client, "before")
    read_until(probe, PER_ROUND)
    shutil.copy(front.log, front.log.with_name("access.log.1"))  # logrotate copytruncate
    with front.log.open("r+b") as f:
        f.truncate(0)
    push_and_pull(front.client, "after")
    status = read_until(probe, 2 * PER_ROUND)
    assert status.counts.requests == times(2)
    assert status.rotations == 1


def test_garbage_and_over_long_lines_are_skipped_and_counted(front: Front) -> None:
    probe = traffic_probe(front.config)
    read_until(probe, 0)
    push_and_pull(front.client, "one")
    read_until(probe, PER_ROUND)
    with front.log.open("ab") as f:
        f.write(b"garbage that is no log line\n")
        f.write(b'127.0.0.1 - - [01/Dec/2026:09:00:00 +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "c"\n')
        f.write(b"x" * 100_000 + b"\n")
        f.write(b"\x00\xff\xfe binary\n")
    push_and_pull(front.client, "two")
    counts = read_until(probe, 2 * PER_ROUND + 4).counts
    # the combined-format line is not of the configured format: skipped as well
    assert (counts.lines_parsed, counts.lines_skipped) == (2 * PER_ROUND, 4)
    assert counts.requests == times(2)


def exporter_config(front: Front, tmp_path: Path) -> dict[str, Any]:
    return {
        "node": "node-1",
        "role": "standby",
        "backend_url": front.registry.url,
        "state_dir": str(tmp_path / "exporter-state"),
        "access_log": {"path": str(front.log), "format": "registry_monitor"},
        "intervals": {
            "disk": 60,
            "services": 60,
            "api": 60,
            "cert": 300,
            "storage": 300,
            "sync": 60,
            "standby": 60,
            "traffic": 0.2,
        },
        "timeouts": {"traffic": 0.2},
    }


def exported(exporter: Exporter, name: str, **labels: str) -> float | None:
    return value(exporter.metrics_text(), f"registry_monitor_{name}", **labels)


def wait_exported(exporter: Exporter, lines: float) -> str:
    def done() -> str | None:
        text = exporter.metrics_text()
        got = value(text, "registry_monitor_access_log_lines_total", result="parsed")
        return text if got == lines else None

    return wait_until(done, 15, f"the exporter to count {lines} lines")


def test_an_exporter_restart_doubles_nothing_and_loses_nothing(
    front: Front, tmp_path: Path
) -> None:
    config = exporter_config(front, tmp_path)
    exporter = Exporter(tmp_path / "exporter", config).start(wait_for=("traffic",))
    try:
        push_and_pull(front.client, "first")
        wait_exported(exporter, PER_ROUND)
        exporter.stop()
        push_and_pull(front.client, "while-down")  # written while no exporter runs
        exporter = Exporter(tmp_path / "exporter", config).start(wait_for=("traffic",))
        push_and_pull(front.client, "after")
        text = wait_exported(exporter, 2 * PER_ROUND)  # counters start again at 0
        assert (
            value(
                text,
                "registry_monitor_http_requests_total",
                route="blob_upload",
                method="PUT",
                code="201",
            )
            == 4
        )
        assert value(text, "registry_monitor_access_log_lines_total", result="skipped") == 0
        assert (
            value(
                text,
                "registry_monitor_http_request_duration_seconds_count",
                route="manifest",
                method="GET",
            )
            == 4
        )
        assert value(text, "registry_monitor_http_upstream_errors_total", route="base") == 0
        assert value(text, "registry_monitor_probe_success", probe="traffic") == 1
        writes = value(
            text, "registry_monitor_http_requests_total", route="manifest", method="PUT", code="201"
        )
        assert writes == 2  # PUTs on a standby: what RegistryWritesOnStandby warns of
    finally:
        exporter.stop()


def test_check_registry_judges_the_real_log(front: Front, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "check.yaml",
        {"access_log": {"path": str(front.log), "format": "registry_monitor"}},
    )
    push_and_pull(front.client, "checked")
    run = run_check(config, "traffic")
    assert (run.state, run.perf("requests").value, run.perf("errors").value) == ("OK", 14, 0)
    # the blob HEAD 404 is left out of the requests judged
    assert run.text.startswith("0% 5xx of 13 requests in the last 5 minutes, manifest p95 ")
    front.registry.stop()
    for _ in range(4):
        assert front.client.session.get(f"{front.client.base}/v2/", timeout=5).status_code == 502
    run = run_check(config, "traffic")
    assert run.state == "CRITICAL"
    assert run.text == (
        "23.529% of 17 requests in the last 5 minutes answered 5xx "
        "(4, 4 made by nginx without a registry answer) (critical > 5)"
    )
