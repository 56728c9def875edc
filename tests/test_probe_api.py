"""api probe against a real registry, and against a fake one for what a registry never does."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.api import ApiProbe, ApiStatus, EndpointStatus
from registry_monitor.probes.reading import ProbeRunner, run_probe
from testbed.images import Pusher
from testbed.registry import Registry
from tests.support.trickle import Trickle

V2_HEADERS = {"Docker-Distribution-Api-Version": "registry/2.0"}


def run(timeout: float = 5, **config: object) -> ApiStatus:
    reading = run_probe(ApiProbe(Config(cert_file=None, **config)), Deadline(timeout))  # type: ignore[arg-type]
    assert reading.ok, reading.error
    return reading.value


def backend(status: ApiStatus) -> EndpointStatus:
    return status.endpoints[0]


def test_healthy_registry(registry: Registry) -> None:
    pusher = Pusher(registry.url)
    image = pusher.push_image("toolforge-python311-sssd-base", "latest")
    status = run(
        backend_url=registry.url,
        public_url=registry.url,
        canary_images=["toolforge-python311-sssd-base:latest"],
    )
    for ep, name in zip(status.endpoints, ("backend", "public"), strict=True):
        assert (ep.endpoint, ep.up, ep.status_code, ep.error) == (name, True, 200, None)
        assert ep.duration_seconds is not None and ep.duration_seconds > 0
        assert ep.catalog is not None
        assert (ep.catalog.up, ep.catalog.repositories, ep.catalog.pages) == (True, 1, 1)
        (m,) = ep.manifests
        assert (m.image, m.up, m.status_code, m.digest) == (
            "toolforge-python311-sssd-base:latest",
            True,
            200,
            image.digest,
        )


def test_catalog_over_several_pages(registry: Registry) -> None:
    pusher = Pusher(registry.url)
    for i in range(5):
        pusher.push_image(f"team/repo{i}", "v1")
    ep = backend(run(backend_url=registry.url, public_url=registry.url, catalog_page_size=2))
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.repositories, ep.catalog.pages, ep.catalog.error) == (
        True,
        5,
        3,
        None,
    )


def test_page_size_above_registry_maxentries(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r", extra_config={"catalog": {"maxentries": 2}}).start()
    try:
        ep = backend(run(backend_url=reg.url, public_url=reg.url, catalog_page_size=3))
    finally:
        reg.stop()
    assert ep.up is True
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.error) == (False, "catalog page 1 answered HTTP 400")


def test_manifest_list_canary_keeps_its_own_digest(registry: Registry) -> None:
    pusher = Pusher(registry.url)
    amd = pusher.push_image("multi", "amd64")
    index = pusher.push_index("multi", "latest", [amd])
    oci = pusher.push_image("oci", "v1", oci=True)
    ep = backend(
        run(
            backend_url=registry.url,
            public_url=registry.url,
            canary_images=["multi", "oci:v1", f"multi@{amd.digest}"],
        )
    )
    assert [(m.up, m.digest) for m in ep.manifests] == [
        (True, index.digest),
        (True, oci.digest),
        (True, amd.digest),
    ]


def test_missing_canary_tag(registry: Registry) -> None:
    Pusher(registry.url).push_image("base", "v1")
    ep = backend(
        run(
            backend_url=registry.url,
            public_url=registry.url,
            canary_images=["base:v2", "absent:latest"],
        )
    )
    assert [(m.image, m.up, m.status_code, m.error) for m in ep.manifests] == [
        ("base:v2", False, 404, "not found"),
        ("absent:latest", False, 404, "not found"),
    ]


def test_stopped_registry_is_down_not_a_probe_failure(registry: Registry) -> None:
    registry.stop()
    ep = backend(run(backend_url=registry.url, public_url=registry.url, canary_images=["a:b"]))
    assert (ep.up, ep.status_code, ep.duration_seconds, ep.error, ep.catalog, ep.manifests) == (
        False,
        None,
        None,
        "connection refused",
        None,
        (),
    )


# --- what only a fake registry can show -------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def fake(http: HTTPServer) -> str:
    return http.url_for("").rstrip("/")


def test_hanging_endpoint_times_out(fake_http: HTTPServer, release: threading.Event) -> None:
    def hang(_: Request) -> Response:
        release.wait(30)
        return Response("{}", headers=V2_HEADERS)

    fake_http.expect_request("/v2/").respond_with_handler(hang)
    begin = time.monotonic()
    ep = backend(run(timeout=0.5, backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert time.monotonic() - begin < 3
    assert (ep.up, ep.error) == (False, "read timed out")


def test_not_a_registry(fake_http: HTTPServer) -> None:
    fake_http.expect_request("/v2/").respond_with_data("<html>Welcome to nginx!</html>")
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert (ep.up, ep.status_code, ep.error) == (
        False,
        200,
        "GET /v2/ answered without Docker-Distribution-Api-Version: not a registry",
    )


def test_unauthorized_counts_as_up(fake_http: HTTPServer) -> None:
    fake_http.expect_request("/v2/").respond_with_data("{}", status=401, headers=V2_HEADERS)
    fake_http.expect_request("/v2/_catalog").respond_with_data("{}", status=401, headers=V2_HEADERS)
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert (ep.up, ep.status_code) == (True, 401)
    assert ep.catalog is not None and (ep.catalog.up, ep.catalog.error) == (
        False,
        "catalog page 1 answered HTTP 401",
    )


def test_server_error(fake_http: HTTPServer) -> None:
    fake_http.expect_request("/v2/").respond_with_data("oops", status=500)
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert (ep.up, ep.status_code, ep.error) == (False, 500, "GET /v2/ answered HTTP 500")


def test_redirect_is_not_followed(fake_http: HTTPServer) -> None:
    fake_http.expect_request("/v2/").respond_with_data(
        "", status=302, headers={"Location": "http://192.0.2.1/"}
    )
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert (ep.up, ep.status_code, ep.error) == (False, 302, "GET /v2/ answered HTTP 302")


def _registry_root(http: HTTPServer) -> None:
    http.expect_request("/v2/").respond_with_data("{}", headers=V2_HEADERS)


def test_garbage_catalog(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_data("{not json", headers=V2_HEADERS)
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert ep.catalog is not None
    assert (ep.up, ep.catalog.up, ep.catalog.error) == (
        True,
        False,
        "catalog page 1 is not a JSON repository list",
    )


@pytest.mark.parametrize(
    ("body", "why"),
    [
        # 3.6 MB of one-character names, under the page cap: 900,000 strings decoded
        (
            b'{"repositories":[' + b'"a",' * 900_000 + b'"a"]}',
            "catalog page 1 refused: more than 100000 JSON values",
        ),
        # 10 MB, under max_body_bytes (16 MiB), far over any page of 1000 names
        (
            b'{"repositories":["' + b"x" * 10_000_000 + b'"]}',
            "catalog page 1: response body of 10000021 bytes exceeds the 4194304 byte cap",
        ),
        (
            b'{"repositories":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
            "catalog page 1 refused: JSON nested too deeply",
        ),
    ],
)
def test_a_hostile_catalog_page_is_refused_undecoded(
    fake_http: HTTPServer, body: bytes, why: str
) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_data(body, headers=V2_HEADERS)
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert ep.catalog is not None
    assert (ep.up, ep.catalog.up, ep.catalog.error) == (True, False, why)


def test_catalog_link_loop(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_json(
        {"repositories": ["a"]}, headers={"Link": '</v2/_catalog?n=1000>; rel="next"', **V2_HEADERS}
    )
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert ep.catalog is not None and ep.catalog.up is False
    assert (
        ep.catalog.error
        == f"catalog Link header loops back to a page already read ({fake(fake_http)}/v2/_catalog?n=1000)"
    )


def test_catalog_pages_that_do_not_advance(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog", query_string="n=1000").respond_with_json(
        {"repositories": ["a", "b"]}, headers={"Link": '</v2/_catalog?last=b&n=1000>; rel="next"'}
    )
    fake_http.expect_request("/v2/_catalog", query_string="last=b&n=1000").respond_with_json(
        {"repositories": ["a", "b"]}, headers={"Link": '</v2/_catalog?last=c&n=1000>; rel="next"'}
    )
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.pages, ep.catalog.error) == (
        False,
        2,
        "catalog page 2 does not advance past 'b'",
    )


def test_catalog_page_limit(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)

    def endless(request: Request) -> Response:
        last = int(request.args.get("last", "0"))
        return Response(
            f'{{"repositories": ["{last + 1:08d}"]}}',
            headers={"Link": f'</v2/_catalog?last={last + 1}&n=1000>; rel="next"'},
        )

    fake_http.expect_request("/v2/_catalog").respond_with_handler(endless)
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http), catalog_max_pages=5))
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.pages, ep.catalog.error) == (
        False,
        5,
        "catalog has more than 5 pages",
    )


def test_link_to_another_host_is_not_followed(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_json(
        {"repositories": ["a"]},
        headers={"Link": '<http://192.0.2.1/v2/_catalog?last=a>; rel="next"'},
    )
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.repositories, ep.catalog.pages) == (True, 1, 1)


def test_malformed_link_target_ends_the_walk_without_failing_the_probe(
    fake_http: HTTPServer,
) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_json(
        {"repositories": ["a"]}, headers={"Link": '<http://[zz]/v2/_catalog?last=a>; rel="next"'}
    )
    ep = backend(run(backend_url=fake(fake_http), public_url=fake(fake_http)))  # probe ok
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.repositories, ep.catalog.pages) == (True, 1, 1)


def test_huge_catalog_body_is_cut(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_data(
        b'{"repositories": ["' + b"x" * (10 * 1024 * 1024) + b'"]}'
    )
    ep = backend(
        run(backend_url=fake(fake_http), public_url=fake(fake_http), max_body_bytes=1024 * 1024)
    )
    assert ep.catalog is not None
    assert ep.catalog.up is False
    assert (
        ep.catalog.error
        == f"catalog page 1: response body of {10 * 1024 * 1024 + 22} bytes exceeds the 1048576 byte cap"
    )


def test_huge_chunked_body_is_cut(fake_http: HTTPServer) -> None:
    _registry_root(fake_http)

    def stream(_: Request) -> Response:
        chunk = b"x" * 65536
        return Response((chunk for _ in range(200)), headers=V2_HEADERS)  # 12.5 MiB, no length

    fake_http.expect_request("/v2/_catalog").respond_with_handler(stream)
    ep = backend(
        run(backend_url=fake(fake_http), public_url=fake(fake_http), max_body_bytes=1024 * 1024)
    )
    assert ep.catalog is not None
    assert (ep.catalog.up, ep.catalog.error) == (
        False,
        "catalog page 1: response body exceeds the 1048576 byte cap",
    )


@pytest.mark.parametrize("mode", ["silent", "head", "body"])
@pytest.mark.parametrize("bad", ["backend", "public"])
def test_a_trickling_endpoint_is_down_and_the_other_is_judged_on_its_own(
    registry: Registry, mode: str, bad: str
) -> None:
    """Each call is held to the deadline as a whole, and each endpoint has all of it."""
    with Trickle(mode) as slow:
        urls = {"backend": registry.url, "public": registry.url, bad: slow.url}
        probe = ApiProbe(
            Config(cert_file=None, backend_url=urls["backend"], public_url=urls["public"])
        )  # type: ignore[arg-type]
        reading = ProbeRunner(probe, timeout=2).run()
    assert reading.error is None  # the probe's own answer, not the runner's time-out
    by_name = {ep.endpoint: ep for ep in reading.value.endpoints}
    assert (by_name[bad].up, by_name[bad].error) == (False, "read timed out")
    good = by_name["public" if bad == "backend" else "backend"]
    assert (good.up, good.status_code, good.error) == (True, 200, None)
    assert good.catalog is not None and good.catalog.up


PINNED = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("answered", "reason"),
    [
        ({"Docker-Content-Digest": OTHER}, f"digest mismatch: pinned {PINNED}, answered {OTHER}"),
        ({}, f"digest mismatch: pinned {PINNED}, answered none"),
    ],
)
def test_a_canary_pinned_by_digest_fails_on_another_digest(
    fake_http: HTTPServer, answered: dict[str, str], reason: str
) -> None:
    _registry_root(fake_http)
    fake_http.expect_request("/v2/_catalog").respond_with_json({"repositories": ["base"]})
    fake_http.expect_request(f"/v2/base/manifests/{PINNED}", method="HEAD").respond_with_data(
        "", headers=answered
    )
    ep = backend(
        run(
            backend_url=fake(fake_http),
            public_url=fake(fake_http),
            canary_images=[f"base@{PINNED}"],
        )
    )
    (m,) = ep.manifests
    assert (m.up, m.status_code, m.error) == (False, 200, reason)


def test_a_canary_pinned_by_digest_is_present_on_its_own_digest(registry: Registry) -> None:
    image = Pusher(registry.url).push_image("base", "v1")
    ep = backend(
        run(
            backend_url=registry.url,
            public_url=registry.url,
            canary_images=[f"base@{image.digest}"],
        )
    )
    assert [(m.up, m.digest, m.error) for m in ep.manifests] == [(True, image.digest, None)]
