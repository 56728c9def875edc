"""The inventory's wire form: round trip, stable ETag, and strict refusal of anything else."""

import gc
import gzip
import hashlib
import json
import weakref
import zlib
from array import array

import pytest

from registry_monitor.storage import inventory_wire
from registry_monitor.storage.inventory import DigestSet, Inventory, RepoTags, build_inventory
from registry_monitor.storage.inventory_wire import InventoryError, decode
from registry_monitor.storage.layout import digest_key
from tests.support.reasons import gzip_reason


def d(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def digest_set(digests: list[bytes]) -> DigestSet:
    buckets: list[list[bytes]] = [[] for _ in range(256)]
    for x in sorted(digests):
        buckets[x[0]].append(x)
    return DigestSet(tuple(array("Q", (digest_key(x) for x in b)) for b in buckets))


def sample(generated_at: float = 1_700_000_000.5) -> Inventory:
    repos = {
        "toolforge/python311": RepoTags(
            "latest\nv1", d(1) + d(2), array("d", [1_699_999_000.25, 1_699_999_500.0])
        ),
        "empty": RepoTags("", b"", array("d")),
    }
    blobs = sorted(d(n) for n in range(5000))
    chunks = [b"".join(blobs[i : i + 777]) for i in range(0, len(blobs), 777)]
    return build_inventory(
        "node-a", "active", generated_at, repos, digest_set(blobs), lambda: chunks
    )


def wire(inv: Inventory) -> bytes:
    return b"".join(inventory_wire.lines(inv))


def test_round_trip_gzip_and_identity() -> None:
    inv = sample()
    for body, gzipped in ((b"".join(inventory_wire.gzip_chunks(inv)), True), (wire(inv), False)):
        back = decode(
            [body[i : i + 1000] for i in range(0, len(body), 1000)],
            gzipped=gzipped,
            max_bytes=10**7,
        )
        assert (back.node, back.role, back.generated_at) == ("node-a", "active", 1_700_000_000.5)
        assert list(back.repositories) == ["empty", "toolforge/python311"]
        tags = back.repositories["toolforge/python311"]
        assert (tags.tag_names(), tags.digests, list(tags.mtimes)) == (
            ["latest", "v1"],
            d(1) + d(2),
            [1_699_999_000.25, 1_699_999_500.0],
        )
        assert len(back.blobs) == 5000
        assert back.blobs.keys == inv.blobs.keys
        assert back.received_etag == inventory_wire.etag(back)
        assert inventory_wire.etag(back) == inventory_wire.etag(inv)
        assert inventory_wire.etag(inv) == hashlib.sha256(wire(inv)).hexdigest()


def test_equal_content_equal_etag_and_any_change_another() -> None:
    assert inventory_wire.etag(sample()) == inventory_wire.etag(sample())
    assert inventory_wire.etag(sample(1_700_000_001)) != inventory_wire.etag(sample())


def test_the_wire_form_is_written_once_and_goes_with_its_inventory() -> None:
    calls = []
    blobs = [d(1)]

    def blob_digests() -> list[bytes]:
        calls.append(1)
        return blobs

    inv = build_inventory("n", "active", 1.5, {}, digest_set(blobs), blob_digests)
    form = inventory_wire.wire_form(inv)
    assert inventory_wire.wire_form(inv) is form
    assert inventory_wire.etag(inv) == form.etag
    assert calls == [1]
    kept = weakref.ref(form.body)
    del inv, form
    gc.collect()
    assert kept() is None  # its temporary file closed with it


def test_only_an_own_inventory_has_a_wire_form() -> None:
    decoded = decode([wire(sample())], gzipped=False, max_bytes=10**7)
    with pytest.raises(ValueError) as raised:
        inventory_wire.wire_form(decoded)
    assert str(raised.value) == "only this node's own inventory has a wire form"


def header(**overrides: object) -> dict[str, object]:
    h: dict[str, object] = {
        "format": 1,
        "node": "n",
        "role": "active",
        "generated_at": 1.5,
        "repositories": 1,
        "tags": 1,
        "blobs": 1,
    }
    h.update(overrides)
    return h


REPO = {"repository": "a", "tags": ["t"], "digests": d(1).hex(), "mtimes": [1.0]}
BLOBS = {"blobs": d(1).hex()}


def lines(*objs: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def test_a_valid_hand_made_inventory_decodes() -> None:
    inv = decode([lines(header(), REPO, BLOBS)], gzipped=False, max_bytes=10**6)
    assert (list(inv.repositories), len(inv.repositories["a"]), len(inv.blobs)) == (["a"], 1, 1)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "empty inventory"),
        (b"<html>oops</html>\n", "line 1 is not JSON"),
        # held to what a line may cost decoded, however large the inventory's own cap
        (
            lines(header()) + b'{"blobs":[' + b"{}," * 600_000 + b"{}]}\n",
            "line 2 refused: more than 500000 JSON values",
        ),
        (
            lines(header()) + b'{"blobs":"' + b"0" * (16 * 1024 * 1024 + 1),
            "line 2 refused: longer than the 16777216 byte cap",
        ),
        (lines(header()) + b"[" * 20_000 + b"\n", "line 2 refused: JSON nested too deeply"),
        (b'"just a string"\n', "line 1 is not a JSON object"),
        (lines(header(format=2)), "unsupported inventory format 2 (this exporter reads 1)"),
        (lines(header(format=True)), "unsupported inventory format True (this exporter reads 1)"),
        (
            lines({**header(), "extra": 1}),
            "inventory header has keys blobs, extra, format, generated_at, node, repositories, role, tags, expected the format 1 set",
        ),
        (lines(header(generated_at="now")), "header generated_at is not a number: 'now'"),
        (lines(header(tags=-1)), "header tags is not a non-negative integer: -1"),
        (lines(header(), REPO, BLOBS)[:-1], "inventory does not end with a newline (truncated?)"),
        (
            lines(header(), REPO),
            "inventory truncated or inconsistent: header announces 1 repositories, 1 tags, 1 blobs; body has 1, 1, 0",
        ),
        (
            lines(header(), {**REPO, "repository": "Bad Name"}, BLOBS),
            "line 2: invalid repository name 'Bad Name'",
        ),
        (
            lines(header(repositories=2, tags=2), REPO, REPO, BLOBS),
            "line 3: repository a out of order or repeated",
        ),
        (lines(header(), {**REPO, "tags": ["-x"]}, BLOBS), "line 2: invalid tag name '-x'"),
        (
            lines(header(), {**REPO, "digests": d(1).hex().upper()}, BLOBS),
            "line 2 digests is not a string of 64-digit lowercase hex digests",
        ),
        (
            lines(header(), {**REPO, "digests": ""}, BLOBS),
            "line 2: tags, digests and mtimes differ in length",
        ),
        (
            lines(header(), {**REPO, "mtimes": [float("nan")]}, BLOBS),
            "line 2 mtime is not a number: nan",
        ),
        (lines(header(), {**REPO, "mtimes": [-5]}, BLOBS), "line 2 mtime is negative: -5"),
        (
            lines(header(blobs=2), REPO, {"blobs": d(2).hex() + d(1).hex()}),
            "line 3: blobs out of order or repeated",
        ),
        (lines(header(blobs=2), REPO, BLOBS, BLOBS), "line 4: blobs out of order or repeated"),
        (lines(header(), BLOBS, REPO), "line 3: repository after the blob list"),
        (
            lines(header(), REPO, {"blobs": d(1).hex(), "x": 1}),
            "line 3 has unexpected keys: blobs, x",
        ),
    ],
)
def test_garbage_is_refused_with_a_clear_error(body: bytes, error: str) -> None:
    with pytest.raises(InventoryError) as exc:
        decode([body], gzipped=False, max_bytes=10**8)  # above every line cap
    assert str(exc.value) == error


def test_gzip_bomb_stops_at_the_cap() -> None:
    # 256 MiB of zeros (no newline) compresses to a quarter megabyte
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()
    assert len(bomb) < 1 << 20
    with pytest.raises(InventoryError) as exc:
        decode([bomb], gzipped=True, max_bytes=8 << 20)
    assert str(exc.value) == f"inventory larger than the {8 << 20} byte cap"


def test_broken_gzip_is_refused() -> None:
    good = gzip.compress(lines(header(), REPO, BLOBS))
    with pytest.raises(InventoryError) as exc:
        decode([good[:-12]], gzipped=True, max_bytes=10**6)
    assert str(exc.value) == "gzip stream truncated"
    with pytest.raises(InventoryError) as exc:
        decode([good + good], gzipped=True, max_bytes=10**6)
    assert str(exc.value) == "data after the end of the gzip stream"
    with pytest.raises(InventoryError) as exc:
        decode([b"not gzip at all"], gzipped=True, max_bytes=10**6)
    assert str(exc.value) == f"not valid gzip: {gzip_reason(b'not gzip at all')}"  # zlib's
