"""Real nginx-light terminating TLS in front of the real registry, as on the Toolforge hosts."""

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.api import ApiProbe
from registry_monitor.probes.cert import CertProbe
from registry_monitor.probes.reading import run_probe
from testbed.certs import CertFiles, issue, now, self_signed
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from tests.support.tls_reasons import openssl_refusal

NAME = "docker-registry.test"


@pytest.fixture
def front(registry: Registry, ca: trustme.CA, tmp_path: Path) -> Iterator[Nginx]:
    cert = issue(ca, tmp_path / "live", NAME, days=30)
    nginx = Nginx(tmp_path / "nginx", registry.url, NAME, cert.cert, cert.key).start()
    try:
        yield nginx
    finally:
        nginx.stop()


def config(registry: Registry, nginx: Nginx, ca_file: Path, **extra: object) -> Config:
    return Config(
        backend_url=registry.url,
        public_url=f"https://{NAME}",
        public_connect=nginx.connect,
        ca_file=ca_file,
        cert_file=nginx.cert,
        **extra,  # type: ignore[arg-type]
    )


def test_public_endpoint_through_nginx(registry: Registry, front: Nginx, ca_file: Path) -> None:
    pushed = Pusher(registry.url).push_image("toolforge-base", "latest")
    r = run_probe(
        ApiProbe(config(registry, front, ca_file, canary_images=["toolforge-base"])), Deadline(5)
    )
    assert r.ok
    public = r.value.endpoints[1]
    assert (public.endpoint, public.up, public.status_code, public.error) == (
        "public",
        True,
        200,
        None,
    )
    assert public.catalog is not None and (public.catalog.up, public.catalog.repositories) == (
        True,
        1,
    )
    assert [(m.up, m.digest) for m in public.manifests] == [(True, pushed.digest)]


def test_nginx_down_registry_up(registry: Registry, front: Nginx, ca_file: Path) -> None:
    front.stop()
    r = run_probe(ApiProbe(config(registry, front, ca_file)), Deadline(5))
    backend, public = r.value.endpoints
    assert (backend.up, public.up, public.error) == (True, False, "connection refused")


def test_registry_down_behind_nginx(registry: Registry, front: Nginx, ca_file: Path) -> None:
    registry.stop()
    r = run_probe(ApiProbe(config(registry, front, ca_file)), Deadline(5))
    backend, public = r.value.endpoints
    assert (backend.up, backend.error) == (False, "connection refused")
    assert (public.up, public.status_code, public.error) == (
        False,
        502,
        "GET /v2/ answered HTTP 502",
    )


def test_renewed_certificate_visible_until_nginx_reloads(
    registry: Registry, front: Nginx, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    served_before = front.cert.read_bytes()
    renewed = issue(ca, tmp_path / "renewed", NAME, days=90)
    front.cert.write_bytes(renewed.cert.read_bytes())  # renewal rewrites the live file in place
    front.key.write_bytes(renewed.key.read_bytes())
    probe = CertProbe(config(registry, front, ca_file))
    r = run_probe(probe, Deadline(5))
    assert r.ok and r.value.served_matches_file is False
    served, on_disk = r.value.certs
    assert on_disk.fingerprint_sha256 == renewed.fingerprint_sha256
    assert served.fingerprint_sha256 != renewed.fingerprint_sha256
    assert served_before != front.cert.read_bytes()
    front.reload()

    def reloaded() -> bool:
        return run_probe(probe, Deadline(5)).value.served_matches_file is True

    from testbed.waiting import wait_until

    wait_until(reloaded, 10, "nginx to serve the renewed certificate")


@pytest.mark.parametrize(
    ("make", "valid", "handshakes"),
    [
        (lambda ca, d: issue(ca, d, NAME, days=30), True, 1),
        (
            lambda ca, d: issue(ca, d, NAME, not_before=now() - dt.timedelta(days=10), days=5),
            False,
            2,
        ),
        (lambda _ca, d: self_signed(d, NAME, days=30), False, 2),
    ],
    ids=["valid", "expired", "self-signed"],
)
def test_one_handshake_unless_verification_fails(
    registry: Registry,
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    make: Callable[[trustme.CA, Path], CertFiles],
    valid: bool,
    handshakes: int,
) -> None:
    """A healthy certificate costs one verified handshake, as any client's; only a failed
    verification costs a second, unverified one, to still read what nginx serves."""
    cert = make(ca, tmp_path / "c")
    nginx = Nginx(tmp_path / "nginx", registry.url, NAME, cert.cert, cert.key).start()
    try:
        probe = CertProbe(config(registry, nginx, ca_file))
        before = nginx.connections_accepted()
        r = run_probe(probe, Deadline(5))
        after = nginx.connections_accepted()
        # OpenSSL's reason, as nginx's clients are told it (None: it verifies)
        address = ("127.0.0.1", int(nginx.connect.rpartition(":")[2]))
        error = None if valid else openssl_refusal(address, NAME, ca_file)
    finally:
        nginx.stop()
    served = r.value.certs[0]
    assert (served.valid, served.error, served.fingerprint_sha256) == (
        valid,
        error,
        cert.fingerprint_sha256,
    )
    assert after - before - 1 == handshakes  # less the count's own connection
