"""The standby probe against an active that only pytest-httpserver can play: skewed clocks,
garbage inventories, refusals. This node's side is a real registry's data directory."""

import gzip
import hashlib
import time
import tracemalloc
import zlib
from array import array
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.probes.standby import StandbyProbe, StandbyStatus
from registry_monitor.storage import inventory_wire
from registry_monitor.storage.inventory import Inventory, RepoTags, build_inventory
from registry_monitor.storage.scan import Scanner
from testbed.images import Pusher
from testbed.registry import Registry
from tests.support.reasons import gzip_reason

EXTRA = hashlib.sha256(b"a manifest only the active has").digest()


@pytest.fixture
def scanner(registry: Registry) -> Scanner:
    pusher = Pusher(registry.url)
    pusher.push_image("toolforge/python311", "latest")
    pusher.push_image("toolforge/node18", "latest")
    return Scanner(registry.data_dir, "registry-b", "standby", 86400)


@pytest.fixture
def local(scanner: Scanner) -> Inventory:
    return scanner.scan(Deadline(10)).inventory


class Stopwatch:
    """Seconds since it was made: the bound a measured lag may exceed its true value by,
    however slow the machine (a fixed window fails under load)."""

    def __init__(self) -> None:
        self.start = time.time()

    def __call__(self) -> float:
        return time.time() - self.start


def active_view(
    local: Inventory, skew: float, extra_age: float | None, scanner: Scanner, **kw: str
) -> Inventory:
    """The same content as seen by an active whose clock is `skew` seconds off,
    plus (when extra_age is set) one tag pushed extra_age seconds ago on that clock."""
    generated = time.time() + skew
    repos = {
        name: RepoTags(t.names, t.digests, array("d", (m + skew for m in t.mtimes)))
        for name, t in local.repositories.items()
    }
    if extra_age is not None:
        repos["toolforge/extra"] = RepoTags("latest", EXTRA, array("d", [generated - extra_age]))
    return build_inventory(
        kw.get("node", "registry-a"),
        kw.get("role", "active"),
        generated,
        repos,
        local.blobs,
        scanner.blob_chunks,
    )


def serve(server: HTTPServer, inventory: Inventory, age: str | None = "0") -> list[Request]:
    seen: list[Request] = []
    etag = f'W/"{inventory_wire.etag(inventory)}"'
    headers = {"ETag": etag, **({"Age": age} if age is not None else {})}

    def handler(request: Request) -> Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        body = b"".join(inventory_wire.gzip_chunks(inventory))
        return Response(body, headers={**headers, "Content-Encoding": "gzip"})

    server.expect_request("/api/inventory").respond_with_handler(handler)
    return seen


def probe(server: HTTPServer, registry: Registry, **kw: Any) -> StandbyProbe:
    return StandbyProbe(
        Config(
            node="registry-b",
            role="standby",
            data_dir=registry.data_dir,
            active_exporter_url=server.url_for("/"),
            **({"state_dir": registry.workdir / "state"} | kw),
        )
    )


def ok(r: Reading[Any]) -> StandbyStatus:
    assert r.ok, r.error
    assert isinstance(r.value, StandbyStatus)
    return r.value


@pytest.mark.parametrize("skew", [-300.0, 0.0, 300.0])
def test_skewed_clocks_neither_hide_nor_invent_lag(
    skew: float, local: Inventory, scanner: Scanner, registry: Registry, fake_http: HTTPServer
) -> None:
    took = Stopwatch()
    serve(fake_http, active_view(local, skew, extra_age=600, scanner=scanner))
    s = ok(run_probe(probe(fake_http, registry), Deadline(10)))
    assert (s.missing_tags, s.missing_repositories, s.mismatched_tags, s.missing_blobs) == (
        1,
        1,
        0,
        0,
    )
    assert 600 <= s.lag_seconds <= 600 + took()
    assert (s.in_step, s.oldest_missing_tag) == (False, "toolforge/extra:latest")


@pytest.mark.parametrize("skew", [-300.0, 300.0])
def test_skewed_clocks_in_step_is_lag_zero(
    skew: float, local: Inventory, scanner: Scanner, registry: Registry, fake_http: HTTPServer
) -> None:
    serve(fake_http, active_view(local, skew, extra_age=None, scanner=scanner))
    s = ok(run_probe(probe(fake_http, registry), Deadline(10)))
    assert (s.in_step, s.lag_seconds, s.missing_tags, s.missing_blobs) == (True, 0.0, 0, 0)


@pytest.mark.parametrize("age", [None, "-5", "soon", "1e3"])
@pytest.mark.parametrize("skew", [-300.0, 300.0])
def test_skewed_clocks_without_a_usable_age_header(
    skew: float,
    age: str | None,
    local: Inventory,
    scanner: Scanner,
    registry: Registry,
    fake_http: HTTPServer,
) -> None:
    """A peer (or a proxy) that sends no Age, or garbage: no loss is invented and the lag
    never goes negative; the inventory's own time stamp bounds its age, off by the skew
    at most when the active's clock is behind."""
    serve(fake_http, active_view(local, skew, extra_age=None, scanner=scanner), age=age)
    s = ok(run_probe(probe(fake_http, registry), Deadline(10)))
    assert (s.in_step, s.lag_seconds, s.missing_tags, s.mismatched_tags) == (True, 0.0, 0, 0)
    fake_http.clear()
    took = Stopwatch()
    serve(fake_http, active_view(local, skew, extra_age=600, scanner=scanner), age=age)
    s = ok(run_probe(probe(fake_http, registry), Deadline(10)))
    assert (s.missing_tags, s.oldest_missing_tag) == (1, "toolforge/extra:latest")
    assert 600 <= s.lag_seconds <= 600 + took() + max(0.0, -skew)
    assert s.inventory_age_seconds >= 0


def test_an_unchanged_inventory_costs_a_304_and_ages(
    local: Inventory, scanner: Scanner, registry: Registry, fake_http: HTTPServer
) -> None:
    took = Stopwatch()
    inventory = active_view(local, 0, extra_age=100, scanner=scanner)
    seen = serve(fake_http, inventory, age="30")
    p = probe(fake_http, registry, api_token="tok-0123456789abcdef")
    first = ok(run_probe(p, Deadline(10)))
    second = ok(run_probe(p, Deadline(10)))
    assert (first.response, second.response) == ("200", "304 not modified")
    assert seen[0].headers.get("If-None-Match") is None
    assert seen[1].headers["If-None-Match"] == f'W/"{inventory_wire.etag(inventory)}"'
    assert seen[1].headers["Authorization"] == "Bearer tok-0123456789abcdef"
    assert 130 <= second.lag_seconds <= 130 + took()
    assert second.missing_tags == 1


def respond(server: HTTPServer, body: bytes, status: int = 200, **headers: str) -> None:
    server.expect_request("/api/inventory").respond_with_response(
        Response(body, status=status, headers=headers)
    )


def failure(server: HTTPServer, registry: Registry, **kw: Any) -> str:
    r = run_probe(probe(server, registry, **kw), Deadline(10))
    assert (r.ok, r.value) == (False, None)
    assert r.error is not None
    return r.error


def test_garbage_answers_fail_the_probe(
    local: Inventory, registry: Registry, fake_http: HTTPServer
) -> None:
    url = fake_http.url_for("/api/inventory")
    cases: list[tuple[bytes, int, dict[str, str], str]] = [
        (b"boom", 500, {}, f"active exporter {url} answered HTTP 500: boom"),
        (
            b"",
            401,
            {},
            f"active exporter {url} refused the request (401): set the same api_token on both",
        ),
        (b"", 304, {}, f"active exporter {url} answered 304 to a request without If-None-Match"),
        (b"<html>hello</html>\n", 200, {}, "active's inventory rejected: line 1 is not JSON"),
        (
            gzip.compress(b"{}\n"),
            200,
            {"Content-Encoding": "gzip"},
            "active's inventory rejected: unsupported inventory format None (this exporter reads 1)",
        ),
        (
            b"\x1f\x8b garbage",
            200,
            {"Content-Encoding": "gzip"},
            "active's inventory rejected: not valid gzip: " + gzip_reason(b"\x1f\x8b garbage"),
        ),
        (
            b"x",
            200,
            {"Content-Encoding": "br"},
            "active's inventory came with Content-Encoding 'br'",
        ),
    ]
    for body, status, headers, error in cases:
        fake_http.clear()
        respond(fake_http, body, status, **headers)
        assert failure(fake_http, registry) == error


def test_gzip_bomb_is_cut_at_the_cap(
    local: Inventory, registry: Registry, fake_http: HTTPServer
) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(compressor.compress(b" " * (1 << 20)) for _ in range(64)) + compressor.flush()
    respond(fake_http, bomb, 200, **{"Content-Encoding": "gzip"})
    assert failure(fake_http, registry, inventory_max_bytes=1 << 20) == (
        f"active's inventory rejected: inventory larger than the {1 << 20} byte cap"
    )


def test_gzip_bomb_costs_no_more_memory_than_the_cap(
    local: Inventory, registry: Registry, fake_http: HTTPServer, tmp_path: Path
) -> None:
    """256 MiB of one endless line, in 256 KiB of gzip: refused at the cap, and the
    probe's Python allocations peak near the cap, not near the bomb. A state_dir of its
    own: with what an earlier test left there, the failed fetch would recall the active's
    last answer and scan this node's tree inside the measured window."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(compressor.compress(b"x" * (1 << 20)) for _ in range(256)) + compressor.flush()
    assert len(bomb) < 1 << 20
    respond(fake_http, bomb, 200, **{"Content-Encoding": "gzip"})
    cap = 4 << 20
    tracemalloc.start()
    try:
        error = failure(fake_http, registry, inventory_max_bytes=cap, state_dir=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error == f"active's inventory rejected: inventory larger than the {cap} byte cap"
    # The line buffer grows to the cap, and while a reallocation moves it the old and the
    # new block are both live; with an inflate step on top, the allocator decides how
    # often it moves (1.3 to 3.5 times the cap measured): bounded by the cap, 16 times
    # under the bomb
    assert peak < 4 * cap, peak


def test_a_standby_or_itself_is_not_the_active(
    local: Inventory, scanner: Scanner, registry: Registry, fake_http: HTTPServer
) -> None:
    url = fake_http.url_for("/api/inventory")
    serve(
        fake_http, active_view(local, 0, None, role="standby", node="registry-c", scanner=scanner)
    )
    assert (
        failure(fake_http, registry)
        == f"{url} is node registry-c with role standby, not the active"
    )
    fake_http.clear()
    serve(fake_http, active_view(local, 0, None, node="registry-b", scanner=scanner))
    assert failure(fake_http, registry) == f"{url} is this node (registry-b) itself"


def test_without_an_active_url(tmp_path: Path) -> None:
    r = run_probe(StandbyProbe(Config(role="standby", data_dir=tmp_path)), Deadline(5))
    assert (r.ok, r.error) == (False, "active_exporter_url is not set: nothing to compare with")
