"""Property tests of the parsers that read what others wrote: link files, manifest blobs,
`Link` headers. Each raises only its documented error on any input and accepts what the
registry itself produces."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from registry_monitor.clients.registry_api import next_link
from registry_monitor.storage.inventory_wire import InventoryError, decode
from registry_monitor.storage.layout import LayoutError, ManifestRefs, parse_link, parse_manifest
from testbed.images import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
)

digests = st.binary(min_size=32, max_size=32)


# ---------------------------------------------------------------- link files


@given(digests)
def test_link_round_trips_what_the_registry_writes(digest: bytes) -> None:
    assert parse_link(f"sha256:{digest.hex()}".encode()) == digest


@given(st.binary(max_size=200))
@example(b"sha256:" + b"a" * 64 + b"\n")
@example(b"sha256:" + b"A" * 64)
@example(b"sha256:" + b"a" * 63)
@example(b"\xef\xbb\xbfsha256:" + b"a" * 64)
def test_link_parser_accepts_exactly_the_layout_or_raises_layout_error(data: bytes) -> None:
    try:
        digest = parse_link(data)
    except LayoutError as exc:
        assert str(exc)  # every refusal says why
        assert len(str(exc)) < 400  # and quotes at most a bounded slice of the file
        return
    assert data == f"sha256:{digest.hex()}".encode()


# ------------------------------------------------------------ manifest blobs


def descriptor(digest: bytes, media: str) -> dict[str, object]:
    return {"mediaType": media, "size": 1234, "digest": f"sha256:{digest.hex()}"}


@st.composite
def image_manifests(draw: st.DrawFn) -> tuple[bytes, ManifestRefs]:
    """A Docker v2 or OCI image manifest as clients push it, and the references it holds."""
    oci = draw(st.booleans())
    config = draw(digests)
    layers = draw(st.lists(digests, max_size=8))
    body: dict[str, object] = {
        "schemaVersion": 2,
        "config": descriptor(
            config, "application/vnd.oci.image.config.v1+json" if oci else DOCKER_CONFIG
        ),
        "layers": [descriptor(d, DOCKER_LAYER) for d in layers],
    }
    if not oci or draw(st.booleans()):  # OCI makes mediaType optional
        body["mediaType"] = OCI_MANIFEST if oci else DOCKER_MANIFEST
    refs = ManifestRefs(
        "oci-manifest" if oci else "docker-v2", (), tuple(dict.fromkeys([config, *layers]))
    )
    return json.dumps(body, indent=draw(st.sampled_from([None, 3]))).encode(), refs


@st.composite
def indexes(draw: st.DrawFn) -> tuple[bytes, ManifestRefs]:
    media = draw(st.sampled_from([DOCKER_LIST, OCI_INDEX]))
    children = draw(st.lists(digests, max_size=6))
    body = {
        "schemaVersion": 2,
        "mediaType": media,
        "manifests": [
            {**descriptor(d, DOCKER_MANIFEST), "platform": {"architecture": "amd64", "os": "linux"}}
            for d in children
        ],
    }
    kind = "docker-list" if media == DOCKER_LIST else "oci-index"
    return json.dumps(body).encode(), ManifestRefs(kind, tuple(children), ())


@given(st.one_of(image_manifests(), indexes()))
def test_manifest_parser_reads_what_clients_push(case: tuple[bytes, ManifestRefs]) -> None:
    body, refs = case
    assert parse_manifest(body) == refs


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
manifest_keys = st.sampled_from(
    [
        "schemaVersion",
        "mediaType",
        "config",
        "layers",
        "manifests",
        "fsLayers",
        "digest",
        "blobSum",
        "urls",
    ]
)


@st.composite
def manifest_like(draw: st.DrawFn) -> bytes:
    """JSON shaped like a manifest with arbitrary values where the fields go."""
    doc = draw(st.dictionaries(manifest_keys, json_values, max_size=6))
    if draw(st.booleans()):
        doc["schemaVersion"] = draw(st.sampled_from([1, 2, "2", 2.0, None]))
    for field in ("layers", "manifests", "fsLayers"):
        if draw(st.booleans()):
            doc[field] = draw(
                st.lists(
                    st.dictionaries(
                        manifest_keys, json_values | st.just("sha256:" + "a" * 64), max_size=4
                    ),
                    max_size=3,
                )
            )
    return json.dumps(doc).encode()


@given(
    st.one_of(
        st.binary(max_size=300), manifest_like(), json_values.map(lambda v: json.dumps(v).encode())
    )
)
@example(b'{"schemaVersion": 2, "manifests": [{"digest": 5}]}')
@example(b'{"schemaVersion": 2, "config": {"digest": ["x"]}}')
@example(b'{"schemaVersion": 1, "fsLayers": [{"blobSum": null}]}')
@example(b'{"schemaVersion": 2, "layers": [{}], "config": {}}')
@example(b'{"schemaVersion": 2, "layers": [{"mediaType": []}], "config": {}}')
@example(b"[" * 100_000)  # deeper than the JSON parser's recursion limit
@example(b'{"schemaVersion": 2, "config": {"digest": "sha256:' + b"a" * 64 + b'"}, "mediaType": 7}')
def test_manifest_parser_raises_only_layout_error(data: bytes) -> None:
    try:
        refs = parse_manifest(data)
    except LayoutError as exc:
        assert str(exc)
        assert len(str(exc)) < 400
        return
    assert refs.kind in ("docker-v2", "docker-list", "oci-manifest", "oci-index", "docker-v1")
    assert all(len(d) == 32 for d in (*refs.children, *refs.blobs))
    assert len(set(refs.blobs)) == len(refs.blobs)


# --------------------------------------------------------------- Link headers

BASE = "http://127.0.0.1:5000/v2/_catalog?n=1000"


@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=120))
def test_catalog_link_as_the_registry_sends_it(last: str) -> None:
    from urllib.parse import quote

    target = f"/v2/_catalog?last={quote(last, safe='')}&n=1000"
    assert next_link(f'<{target}>; rel="next"', BASE) == "http://127.0.0.1:5000" + target


link_params = st.sampled_from(
    [
        'rel="next"',
        "rel=next",
        'rel="prev next"',
        'REL="Next"',
        'rel="last"',
        "title=x",
        'rel=""',
        "",
    ]
)


@st.composite
def link_headers(draw: st.DrawFn) -> str:
    """Link headers built from the RFC 8288 grammar's pieces, with garbage mixed in."""
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        target = draw(
            st.one_of(
                st.sampled_from(
                    [
                        "/v2/_catalog?last=a&n=2",
                        "http://127.0.0.1:5000/v2/_catalog?last=b",
                        "http://evil.example/v2/_catalog",
                        "//evil.example/x",
                        "https://127.0.0.1:5000/v2/",
                        "http://[::1/x",
                        "http://[zz]/x",
                        "http://127.0.0.1:99999/x",
                        "",
                    ]
                ),
                st.text(max_size=30).filter(lambda s: ">" not in s),
            )
        )
        params = draw(st.lists(link_params, max_size=3))
        parts.append(f"<{target}>" + "".join(f"; {p}" for p in params))
    return draw(st.sampled_from([", ", ",", " , "])).join(parts) + draw(st.text(max_size=10))


@given(st.one_of(link_headers(), st.text(max_size=200)))
@example('<http://[::1/v2/_catalog>; rel="next"')
@example('<http://[zz]/v2/_catalog>; rel="next"')
@example('</v2/_catalog?last=x>; rel="next"')
def test_next_link_never_raises_and_never_leaves_the_endpoint(header: str) -> None:
    url = next_link(header, BASE)
    if url is not None:
        asked, got = urlsplit(BASE), urlsplit(url)
        assert (got.scheme, got.netloc) == (asked.scheme, asked.netloc)


# ------------------------------------------------- the active's inventory, from a wrong peer

inventory_keys = st.sampled_from(
    [
        "format",
        "node",
        "role",
        "generated_at",
        "repositories",
        "tags",
        "blobs",
        "repository",
        "digests",
        "mtimes",
    ]
)


@st.composite
def inventory_like(draw: st.DrawFn) -> bytes:
    """JSON lines shaped like an inventory (a header first, more or less) with wrong values."""
    header = {
        "format": 1,
        "node": "a",
        "role": "active",
        "generated_at": 1.0,
        "repositories": 1,
        "tags": 1,
        "blobs": 0,
    }
    header.update(draw(st.dictionaries(inventory_keys, json_values, max_size=3)))
    lines = [
        header,
        *draw(st.lists(st.dictionaries(inventory_keys, json_values, max_size=5), max_size=3)),
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@given(st.one_of(st.binary(max_size=300), inventory_like()), st.booleans())
@example(b'{"format": 1}\n', False)
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", True)
def test_inventory_decoder_raises_only_inventory_error(data: bytes, gzipped: bool) -> None:
    body = gzip.compress(data) if gzipped and not data.startswith(b"\x1f\x8b") else data
    try:
        decode([body[:7], body[7:]], gzipped=gzipped, max_bytes=4096)
    except InventoryError as exc:
        assert str(exc)
        assert len(str(exc)) < 400
