"""The probes' HTTP client (registry_monitor.clients.http): keep-alive, framing, redirects, the
pinned address and the reasons it gives. Real nginx and registry where they can show it;
a canned TCP server for framing they never get wrong."""

from __future__ import annotations

import base64
import http.client
from pathlib import Path

import pytest

from bench.proxy import counting_proxy
from registry_monitor.base import Deadline
from registry_monitor.clients.http import USER_AGENT, BodyCut, Client, RequestFailed
from registry_monitor.config import Config
from registry_monitor.probes.api import ApiProbe
from registry_monitor.probes.pull import PullProbe, PullStatus
from registry_monitor.probes.reading import run_probe
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.waiting import free_port
from tests.conftest import REGISTRY_NAME
from tests.support.canned import Answer, Canned, ok
from tests.support.tls_reasons import openssl_refusal

BIG = 1 << 20  # larger than what closing a response reads to keep its connection


def header(request: str, name: str) -> str | None:
    for line in request.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


# --- keep-alive -------------------------------------------------------------------------


def test_requests_to_one_host_share_one_connection() -> None:
    with Canned(lambda _: ok(b"hello")) as server:
        client = Client()
        bodies = [
            client.get(f"{server.url}/{n}", timeout=5).read_capped(100, Deadline(5))
            for n in range(3)
        ]
        client.head(f"{server.url}/h", timeout=5).close()
        client.get(f"{server.url}/unread", timeout=5).close()  # a small body is read on close
        client.get(f"{server.url}/last", timeout=5).close()
        assert (bodies, server.connections, len(server.requests)) == ([b"hello"] * 3, 1, 6)


def test_a_body_left_unread_costs_its_connection_not_the_next_answer() -> None:
    def answer(request: str) -> Answer:
        return ok(b"x" * BIG) if " /big " in request else ok(b"small")

    with Canned(answer) as server:
        client = Client()
        client.get(f"{server.url}/big", timeout=5)  # never read, never closed
        assert (
            client.get(f"{server.url}/small", timeout=5).read_capped(100, Deadline(5)) == b"small"
        )
        assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    """A keep-alive time-out on the server's side is no failure: the next request
    goes out on a new connection."""
    with Canned(lambda _: Answer(ok(b"one").data, close=True)) as server:
        client = Client()
        assert client.get(server.url, timeout=5).read_capped(100, Deadline(5)) == b"one"
        assert server.closed.acquire(timeout=5)
        assert client.get(server.url, timeout=5).read_capped(100, Deadline(5)) == b"one"
        assert server.connections == 2


def test_what_the_client_sends() -> None:
    with Canned(lambda _: ok()) as server:
        Client().get(f"http://user:p%40ss@127.0.0.1:{server.port}/v2/?n=1", timeout=5).close()
        Client().get(server.url, headers={"Accept": "application/json"}, timeout=5).close()
    first, second = server.requests
    assert first.split("\r\n")[0] == "GET /v2/?n=1 HTTP/1.1"
    assert header(first, "Host") == f"127.0.0.1:{server.port}"  # no user:password
    assert header(first, "Authorization") == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert header(first, "User-Agent") == USER_AGENT
    assert header(first, "Accept-Encoding") == "identity"  # digests are of the bytes as stored
    assert (header(first, "Accept"), header(second, "Accept")) == ("*/*", "application/json")
    assert header(second, "Authorization") is None


def test_a_pin_connects_elsewhere_and_keeps_the_name() -> None:
    with Canned(lambda _: ok()) as server:
        client = Client(pin=("Registry.Test", server.url.removeprefix("http://")))
        client.get("http://registry.test:8080/v2/", timeout=5).close()
        client.get("http://registry.test:8080/v2/_catalog", timeout=5).close()
    assert [header(r, "Host") for r in server.requests] == ["registry.test:8080"] * 2
    assert server.connections == 1


# --- framing ----------------------------------------------------------------------------


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n"


def test_a_chunked_body_arrives_whole_and_the_connection_goes_on() -> None:
    with Canned(lambda _: Answer(CHUNKED + b"0\r\n\r\n")) as server:
        client = Client()
        bodies = [client.get(server.url, timeout=5).read_capped(100, Deadline(5)) for _ in range(2)]
    assert (bodies, server.connections) == ([b"hello world"] * 2, 1)


@pytest.mark.parametrize(
    "data",
    [
        CHUNKED,  # the last chunk never comes
        CHUNKED + b"ff\r\nabc",  # a chunk cut short
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40,
    ],
)
def test_a_body_cut_short_is_said_to_be(data: bytes) -> None:
    with Canned(lambda _: Answer(data, close=True)) as server:
        resp = Client().get(server.url, timeout=5)
        with pytest.raises(BodyCut) as cut:
            resp.read_capped(1000, Deadline(5))
    assert str(cut.value) == "connection broken, the body ended early"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", "not HTTP: status line 'SSH-2.0-OpenSSH_9.2'"),
        (b"", "connection failed: closed without an answer"),
        (
            b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
            # http.client's reason, in its words
            f"not HTTP: {http.client.LineTooLong('header line')}",
        ),
    ],
)
def test_an_answer_that_is_not_http(data: bytes, reason: str) -> None:
    with (
        Canned(lambda _: Answer(data, close=True)) as server,
        pytest.raises(RequestFailed) as failed,
    ):
        Client().get(server.url, timeout=5)
    assert str(failed.value) == reason


# --- redirects --------------------------------------------------------------------------


def redirecting(target: str, status: int = 302) -> Answer:
    return Answer(
        b"HTTP/1.1 %d Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
        % (status, target.encode())
    )


def test_redirects_are_answered_as_they_are_unless_asked() -> None:
    with Canned(lambda _: redirecting("/elsewhere")) as server:
        resp = Client().get(server.url, timeout=5)
    assert (resp.status, resp.headers["Location"], len(server.requests)) == (302, "/elsewhere", 1)


def test_redirects_followed_keep_credentials_only_on_their_origin() -> None:
    with Canned(lambda _: ok(b"blob")) as storage:

        def answer(request: str) -> Answer:
            if " /same " in request:
                return redirecting(f"{storage.url}/blob", 307)
            return redirecting("/same", 301)

        with Canned(answer) as registry:
            resp = Client().get(
                f"{registry.url}/v2/x",
                headers={"Authorization": "Bearer t"},
                timeout=5,
                redirects=3,
            )
            assert (resp.status, resp.url, resp.read_capped(100, Deadline(5))) == (
                200,
                f"{storage.url}/blob",
                b"blob",
            )
    assert [header(r, "Authorization") for r in registry.requests] == ["Bearer t", "Bearer t"]
    assert [header(r, "Authorization") for r in storage.requests] == [None]


def test_redirects_are_bounded() -> None:
    with Canned(lambda _: redirecting("/again")) as server, pytest.raises(RequestFailed) as failed:
        Client().get(server.url, timeout=5, redirects=3)
    assert (str(failed.value), len(server.requests)) == ("more than 3 redirects", 4)


# --- reasons ----------------------------------------------------------------------------


def test_the_reasons_for_no_connection() -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(RequestFailed) as refused:
        Client().get(closed, timeout=5)
    with pytest.raises(RequestFailed) as unknown:
        Client().get("http://registry.invalid/", timeout=5)  # never resolves (RFC 6761)
    with pytest.raises(RequestFailed) as not_http:
        Client().get("ftp://127.0.0.1/", timeout=5)
    assert (str(refused.value), str(unknown.value), str(not_http.value)) == (
        "connection refused",
        "host name does not resolve",
        "not an http(s) URL: 'ftp://127.0.0.1/'",
    )


def test_tls_verified_against_the_pinned_name(front: Nginx, ca_file: Path) -> None:
    url = f"https://{REGISTRY_NAME}/v2/"
    with Client(ca_file, pin=(REGISTRY_NAME, front.connect)).get(url, timeout=5) as resp:
        assert resp.status == 200
    other = "other.test"
    with pytest.raises(RequestFailed) as mismatch:
        Client(ca_file, pin=(other, front.connect)).get(f"https://{other}/v2/", timeout=5)
    with pytest.raises(RequestFailed) as untrusted:
        Client(None, pin=(REGISTRY_NAME, front.connect)).get(url, timeout=5)  # the system's CAs
    # OpenSSL's reason, as a client verifying the same way is told it
    address = ("127.0.0.1", int(front.connect.rpartition(":")[2]))
    assert str(mismatch.value) == f"TLS error: {openssl_refusal(address, other, ca_file)}"
    assert str(untrusted.value) == f"TLS error: {openssl_refusal(address, REGISTRY_NAME, None)}"


# --- the probes, on one connection per host -----------------------------------------------


def test_a_whole_pull_goes_over_one_pinned_connection(
    registry: Registry, front: Nginx, ca_file: Path
) -> None:
    Pusher(registry.url).push_image("base", "latest", layers=[b"a" * 300_000, b"b" * 7])
    with counting_proxy(front.port) as proxy:
        config = Config(
            public_url=f"https://{REGISTRY_NAME}",
            public_connect=f"127.0.0.1:{proxy.port}",
            ca_file=ca_file,
            cert_file=None,
            canary_images=("base:latest", "base:latest"),
        )
        reading = run_probe(PullProbe(config), Deadline(20))
        assert isinstance(reading.value, PullStatus), reading.error
        assert [(i.up, i.blobs_verified) for i in reading.value.images] == [(True, 3), (True, 3)]
        assert proxy.connections == 1  # 2 manifests and 6 blobs, one TLS handshake


def test_the_api_probe_walks_each_endpoint_on_one_connection(
    registry: Registry, front: Nginx, ca_file: Path
) -> None:
    pusher = Pusher(registry.url)
    for i in range(3):
        pusher.push_image(f"team/repo{i}", "v1")
    with counting_proxy(registry.port) as backend, counting_proxy(front.port) as public:
        config = Config(
            backend_url=backend.url,
            public_url=f"https://{REGISTRY_NAME}",
            public_connect=f"127.0.0.1:{public.port}",
            ca_file=ca_file,
            cert_file=None,
            catalog_page_size=1,
            canary_images=("team/repo0:v1", "team/repo1:v1"),
        )
        reading = run_probe(ApiProbe(config), Deadline(20))
        assert reading.value is not None, reading.error
        for ep in reading.value.endpoints:  # /v2/, 3 catalog pages, 2 manifest HEADs
            assert ep.up and ep.catalog is not None and ep.catalog.pages == 3, ep
            assert [m.up for m in ep.manifests] == [True, True], ep
        assert (backend.connections, public.connections) == (1, 1)
