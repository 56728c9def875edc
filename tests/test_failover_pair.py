"""Failover readiness on the real pair: two registries behind their own nginx, real rsync,
both exporters; the standby's answer in its metrics and from `check_registry failover`.

One pair for the module; each fault is undone in the test that makes it, and the next
test starts from a ready standby again.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme

from registry_monitor.probes.parity import file_digest, keyed, parity_key
from testbed.pair import CANARY_IMAGES, PARITY_IGNORE_LINES, TOKEN, HealthyPair
from testbed.waiting import wait_until
from tests.support.check import CheckRun, run_check
from tests.support.metrics import value

FAST = {probe: 1 for probe in ("pull", "parity", "standby", "storage", "sync", "cert", "disk")}
CANARY = CANARY_IMAGES[0]
REMAINING = [
    "[OK] remaining: keep puppet from starting the sync again here: sudo puppet agent --disable "
    '"failover to this node"',
    "[OK] remaining: stop the sync on this node, the new active: "
    "sudo systemctl stop rsync-docker-registry-sync.timer rsync-docker-registry-sync.service",
    "[OK] remaining: point the public name at this node (DNS or floating IP)",
    "[OK] remaining: in hiera, profile::toolforge::docker::registry::active_node: this node, "
    "standby_node: the old active; then here sudo puppet agent --enable and "
    "sudo run-puppet-agent (puppet removes the sync timer on the active)",
    "[OK] remaining: swap role: role: active here and role: standby on the old active, "
    "then restart both exporters",
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HealthyPair]:
    with HealthyPair(
        tmp_path_factory.mktemp("failover"),
        trustme.CA(),
        config={"intervals": FAST, "timeouts": FAST},
    ) as started:
        yield started


def metric(pair: HealthyPair, name: str, **labels: str) -> float | None:
    assert pair.standby.exporter is not None
    return value(pair.standby.exporter.metrics_text(), name, **labels)


def blockers(pair: HealthyPair) -> set[str]:
    assert pair.standby.exporter is not None
    text = pair.standby.exporter.metrics_text()
    found = re.findall(r'registry_monitor_failover_blocker\{reason="(\w+)"\} 1\.0', text)
    return set(found)


def await_ready(pair: HealthyPair, ready: bool, what: str) -> None:
    want = 1.0 if ready else 0.0
    wait_until(lambda: metric(pair, "registry_monitor_failover_ready") == want, 60, what)


def failover(pair: HealthyPair, *args: str) -> CheckRun:
    assert pair.standby.exporter is not None
    return run_check(
        pair.standby.exporter.config_path,
        "failover",
        "-t",
        "50",
        *args,
        env=pair.standby.systemd.env,
    )


def test_ready_standby(pair: HealthyPair) -> None:
    await_ready(pair, True, "a ready standby")
    assert blockers(pair) == set()
    assert metric(pair, "registry_monitor_failover_lost_tags") == 0
    for item in (
        "registry_config",
        "nginx_site",
        "htpasswd",
        "cert_served",
        "cert_file",
        "registry_version",
        "exporter_version",
    ):
        assert metric(pair, "registry_monitor_parity_match", item=item) == 1, item
    # the nodes' files differ only in the lines declared in parity_ignore_lines
    config_a = pair.active.registry.config_path.read_text()
    config_s = pair.standby.registry.config_path.read_text()
    assert config_a != config_s
    for node in pair.nodes:
        assert node.exporter is not None
        text = node.exporter.metrics_text()
        assert value(text, "registry_monitor_pull_up", endpoint="public", image=CANARY) == 1
    run = failover(pair, "-v")
    assert (run.exit_code, run.state, run.text) == (
        0,
        "OK",
        "ready: a failover now loses 0 tags (lag 0s)",
    )
    assert run.long == ["[OK] a failover now loses 0 tags", *REMAINING]
    assert (run.perf("ready").value, run.perf("blockers").value) == (1, 0)


def test_tags_a_failover_would_lose(pair: HealthyPair) -> None:
    """A push the standby has not synced yet: still ready (lag under its critical level),
    and the answer says what would be lost, since when."""
    assert pair.active.exporter is not None
    pushed = pair.active.registry
    from testbed.images import Pusher

    Pusher(pushed.url).push_image("toolforge-jdk17-sssd-base", "latest")
    link = pushed.v2 / "repositories/toolforge-jdk17-sssd-base/_manifests/tags/latest/current/link"
    minute = int(time.time() // 60) * 60
    pushed_at = minute - 10 * 60 + 30  # ten minutes ago, mid-minute: HH:MM is stable
    os.utime(link, (pushed_at, pushed_at))
    pair.active.exporter.wait_reading("storage", newer_than=time.time())
    try:
        run = failover(pair, "-v")
        hhmm = time.strftime("%H:%M UTC", time.gmtime(pushed_at))
        lag = int(re.findall(r"\(lag (\d+)s\)", run.text)[0])
        assert time.time() - pushed_at - 60 < lag <= time.time() - pushed_at + 1
        assert (run.exit_code, run.text) == (
            0,
            f"ready: a failover now loses 1 tags pushed since {hhmm} (lag {lag}s)",
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(pushed_at))
        # the oldest push's time is taken back from the lag: within a second or two
        assert run.long[0].startswith("[OK] a failover now loses 1 tags, the oldest pushed at ")
        assert run.long[0][-23:-7] == stamp[:16]
        assert run.long[1:] == ["- lost: toolforge-jdk17-sssd-base:latest missing", *REMAINING]
        assert run.perf("lost_tags").value == 1
    finally:
        pair.sync.run()
        await_ready(pair, True, "ready again after the sync")
        wait_until(
            lambda: metric(pair, "registry_monitor_failover_lost_tags") == 0, 60, "in step again"
        )


def test_corrupt_layer_on_the_standby(pair: HealthyPair) -> None:
    """A layer rotten on the standby's disk: its pull through nginx fails, failover blocked."""
    await_ready(pair, True, "a ready standby")
    v2 = pair.standby.registry.v2
    layer_text = f"layer of {CANARY}".encode()  # testbed.images: one unique layer per image
    digest = hashlib.sha256(layer_text).hexdigest()
    data = v2 / "blobs/sha256" / digest[:2] / digest / "data"
    original = data.read_bytes()
    assert original == layer_text
    rotten = bytes(b ^ 0x20 for b in original)  # same size: only the digest tells
    data.write_bytes(rotten)
    try:
        await_ready(pair, False, "the corrupt layer to block a failover")
        assert metric(pair, "registry_monitor_pull_up", endpoint="public", image=CANARY) == 0
        assert blockers(pair) == {"pull_failing"}
        run = failover(pair, "-v")
        got = hashlib.sha256(rotten).hexdigest()
        detail = (
            f"pull_failing: pull of {CANARY} failed: layer 1/1 sha256:{digest[:12]}: "
            f"digest mismatch, got sha256:{got[:12]}"
        )
        assert (run.exit_code, run.state, run.text) == (2, "CRITICAL", f"not ready: {detail}")
        assert run.long == [
            f"[CRITICAL] {detail}",
            "[OK] a failover now loses 0 tags",
            *REMAINING,
        ]
        assert (run.perf("ready").value, run.perf("blockers").value) == (0, 1)
        # the active is untouched: its pull still verifies
        assert pair.active.exporter is not None
        text = pair.active.exporter.metrics_text()
        assert value(text, "registry_monitor_pull_up", endpoint="public", image=CANARY) == 1
    finally:
        data.write_bytes(original)
    await_ready(pair, True, "ready again with the layer repaired")


def test_registry_config_changed_on_the_standby(pair: HealthyPair) -> None:
    await_ready(pair, True, "a ready standby")
    path: Path = pair.standby.registry.config_path
    original = path.read_text()
    path.write_text(original.replace("enabled: true", "enabled: false"))  # deletes off here
    assert path.read_text() != original
    patterns = tuple(re.compile(p) for p in PARITY_IGNORE_LINES["registry_config"])
    key, _ = parity_key(TOKEN)  # both nodes key their digests with the pair's token
    here = file_digest(path, patterns, key).digest or ""
    there = file_digest(pair.active.registry.config_path, patterns, key).digest or ""
    try:
        wait_until(
            lambda: metric(pair, "registry_monitor_parity_match", item="registry_config") == 0,
            60,
            "parity_match{item=registry_config} 0",
        )
        assert metric(pair, "registry_monitor_parity_match", item="nginx_site") == 1
        await_ready(pair, False, "the drift to block a failover")
        assert blockers(pair) == {"parity_mismatch"}
        run = failover(pair)
        assert (run.exit_code, run.text) == (
            2,
            "not ready: parity_mismatch: registry_config differs from the active: "
            f"digest {here[:12]} here, {there[:12]} on the active",
        )
    finally:
        path.write_text(original)
    await_ready(pair, True, "ready again with the config restored")


def test_running_sync_blocks_until_it_ends(pair: HealthyPair) -> None:
    await_ready(pair, True, "a ready standby")
    started = time.time()
    pair.sync.record(None, started)  # systemd shows the oneshot activating
    try:
        await_ready(pair, False, "the running sync to block a failover")
        assert blockers(pair) == {"sync_running"}
        run = failover(pair)
        assert (run.exit_code, run.text) == (
            2,
            "not ready: sync_running: rsync-docker-registry-sync.service is running: "
            "let it finish, then look again",
        )
    finally:
        pair.sync.record(0, started)
    await_ready(pair, True, "ready again after the sync ended")


def test_api_parity_sends_digests_only_behind_the_token(pair: HealthyPair) -> None:
    active = pair.active.exporter
    assert active is not None
    url = f"{active.url}/api/parity"
    assert requests.get(url, timeout=5).status_code == 401  # the pair sets api_token
    resp = requests.get(url, headers=active.auth, timeout=5)
    assert resp.status_code == 200
    doc = resp.json()
    assert (doc["format"], doc["node"], doc["role"]) == (2, pair.active.name, "active")
    items = {i["item"]: i for i in doc["items"]}
    assert list(items)[3:] == ["cert_served", "cert_file", "registry_version", "exporter_version"]
    assert sorted(list(items)[:3]) == ["htpasswd", "nginx_site", "registry_config"]
    htpasswd = (pair.active.registry.workdir / "htpasswd").read_bytes()
    # every digest keyed by the pair's token: none can be guessed offline without it
    key, _ = parity_key(TOKEN)
    assert items["htpasswd"]["digest"] == keyed(key, htpasswd)
    assert hashlib.sha256(htpasswd).hexdigest() not in resp.text
    fingerprint = pair.certificate.fingerprint_sha256
    assert items["cert_file"]["digest"] == keyed(key, fingerprint.encode())
    assert items["cert_served"]["digest"] == keyed(key, fingerprint.encode())
    assert items["registry_config"]["ignored_lines"] == 2  # addr, rootdirectory
    assert items["registry_version"]["digest"].startswith("github.com/docker/distribution 2.")
    # nothing of the files' contents leaves the node
    for secret in (htpasswd.decode().split(":")[1].strip(), "rootdirectory", "proxy_pass"):
        assert secret not in resp.text
    assert isinstance(doc["storage_blob_bytes"], int) and doc["storage_blob_bytes"] > 0
