"""Anonymous writes refused: the api probe's anonymous push through real nginx in front of
the real registry, with the site's limit_except as puppet renders it, and without."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from testbed.certs import issue
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from tests.support.check import run_check
from tests.test_check_api import CANARY, NAME, config

REPOSITORY = "registry-monitor-canary"  # write_canary_repository's default


@pytest.fixture
def open_front(registry: Registry, ca: trustme.CA, tmp_path: Path) -> Iterator[Nginx]:
    """nginx as the site would be with limit_except removed: anyone may push."""
    cert = issue(ca, tmp_path / "live-open", NAME, days=60)
    nginx = Nginx(
        tmp_path / "nginx-open", registry.url, NAME, cert.cert, cert.key, push_open=True
    ).start()
    try:
        yield nginx
    finally:
        nginx.stop()


def uploads(registry: Registry) -> list[Path]:
    """Uploads in progress: their data and start time (a cancelled one keeps only its
    empty hash state until the registry's purger comes, as registry 2.8 leaves it)."""
    found = registry.data_dir / "docker/registry/v2/repositories" / REPOSITORY / "_uploads"
    return sorted(p for p in found.glob("*/*") if p.name in ("data", "startedat"))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_refused_as_puppet_renders_the_site(
    registry: Registry, front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    Pusher(registry.url).push_image(*CANARY.split(":"))
    run = run_check(config(tmp_path, registry, front, ca_file), "api", "-v")
    assert (run.exit_code, run.state) == (0, "OK")
    assert f"[OK] public https://{NAME}: anonymous push refused (HTTP 401)" in run.long
    assert run.perf("anonymous_push_refused").value == 1
    # and the builder, with the password, still pushes through the same site
    Pusher(f"https://127.0.0.1:{front.port}", False, front.credentials).push_image("built", "v1")
    assert uploads(registry) == []


def test_accepted_when_limit_except_is_gone(
    registry: Registry, open_front: Nginx, ca_file: Path, tmp_path: Path
) -> None:
    Pusher(registry.url).push_image(*CANARY.split(":"))
    run = run_check(config(tmp_path, registry, open_front, ca_file), "api", "-v")
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    assert run.text == (
        f"public https://{NAME}: an anonymous push was accepted (HTTP 202; the upload it "
        "opened cancelled): anyone can write to the registry; nginx's limit_except is missing"
    )
    assert run.perf("anonymous_push_refused").value == 0
    # the pull still works anonymously, and the check left no upload behind
    assert f"[OK] public canary {CANARY} present" in " ".join(run.long)
    assert uploads(registry) == []
