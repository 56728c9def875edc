"""The certificate facts store: keyed by the DER's sha256, trusted only when it is ours."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest
import trustme

from registry_monitor.files import provenance
from registry_monitor.tls import certfacts
from registry_monitor.tls.certfacts import FactsStore, fingerprint, read_facts
from registry_monitor.tls.chain_verify import pem_chain
from testbed.certs import issue, issue_via_intermediate

DAY = 86400.0


def der_of(pem_file: Path, index: int = 0) -> bytes:
    return pem_chain(pem_file.read_bytes())[index]


@pytest.fixture
def two(ca: trustme.CA, tmp_path: Path) -> tuple[bytes, bytes]:
    return (
        der_of(issue(ca, tmp_path / "a", "a.test", days=30).cert),
        der_of(issue(ca, tmp_path / "b", "b.test", "*.b.test", days=60).cert),
    )


def sealed(body: bytes) -> bytes:
    """The file's bytes for a body: its sha256, a newline, the body."""
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def plant(path: Path, rows: dict[str, object], made_by: str | None = None) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    doc = {"made_by": made_by or certfacts.made_by(), "facts": rows}
    path.write_bytes(sealed(json.dumps(doc).encode()))
    path.chmod(0o600)


def kept(path: Path) -> dict[str, list[object]]:
    """The facts in the file, as JSON (after checking its digest line)."""
    digest, body = path.read_bytes().split(b"\n", 1)
    assert digest.decode() == hashlib.sha256(body).hexdigest()
    doc = json.loads(body)
    assert doc["made_by"] == certfacts.made_by()
    rows: dict[str, list[object]] = doc["facts"]
    return rows


def wrong(day: float) -> list[object]:
    return ["CN=planted", "CN=planted", "1", 0.0, 1.0, ["planted.test"], [], int(day // DAY)]


def test_facts_are_cryptographys_reading_and_kept_in_a_private_file(
    two: tuple[bytes, bytes], tmp_path: Path
) -> None:
    a, b = two
    path = tmp_path / "cache" / "registry-monitor" / "cert-facts.json"
    store = FactsStore(path)
    facts = store.facts(b)
    assert facts == read_facts(b)
    assert facts.fingerprint == fingerprint(b) and len(facts.fingerprint) == 64
    assert (facts.names, facts.not_after - facts.not_before) == (("b.test", "*.b.test"), 60 * DAY)
    assert "b.test" not in store.facts(a).names
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    # a new process: the file answers, by the same key
    assert FactsStore(path).facts(b) == facts
    assert sorted(kept(path)) == sorted([fingerprint(a), fingerprint(b)])


def test_the_key_is_the_certificates_own_hash(two: tuple[bytes, bytes], tmp_path: Path) -> None:
    """A wrong fact planted under another certificate's hash is never served for this one;
    under its own hash it is (the file is what answers, so its trust checks matter)."""
    a, b = two
    path = tmp_path / "facts"
    plant(path, {fingerprint(b): wrong(1e9)})
    store = FactsStore(path, clock=lambda: 1e9)
    assert store.facts(a) == read_facts(a)
    assert store.facts(b).subject == "CN=planted"


@pytest.mark.parametrize("flaw", ["group-writable", "symlink", "garbled", "other-format", "row"])
def test_a_file_not_trusted_or_not_read_is_no_cache(
    two: tuple[bytes, bytes], tmp_path: Path, flaw: str
) -> None:
    _, b = two
    path = tmp_path / "facts"
    planted = tmp_path / "planted"
    plant(planted, {fingerprint(b): wrong(1e9)})
    if flaw == "group-writable":
        plant(path, {fingerprint(b): wrong(1e9)})
        path.chmod(0o620)
    elif flaw == "symlink":
        path.symlink_to(planted)
    elif flaw == "garbled":
        path.write_bytes(planted.read_bytes()[:-9])
    elif flaw == "other-format":
        plant(path, {fingerprint(b): wrong(1e9)}, made_by="made by another version")
    else:  # a row of the wrong shape: a serial as a number
        plant(path, {fingerprint(b): [*wrong(1e9)[:2], 1, *wrong(1e9)[3:]]})
    assert FactsStore(path, clock=lambda: 1e9).facts(b) == read_facts(b)


def test_unused_entries_go_and_the_count_is_capped(
    ca: trustme.CA, two: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    path = tmp_path / "facts"
    now = [1e9]
    store = FactsStore(path, clock=lambda: now[0])
    store.facts(a)
    now[0] += 10 * DAY
    store.facts(b)  # a: last used 10 days ago, kept
    assert len(kept(path)) == 2
    now[0] += (certfacts.PRUNE_DAYS - 5) * DAY
    store.facts(b)  # a day later for b: its use is recorded, a's is 35 days old
    assert list(kept(path)) == [fingerprint(b)]

    monkeypatch.setattr(certfacts, "MAX_ENTRIES", 3)
    chain = issue_via_intermediate(tmp_path / "chain", "c.test", days=30, intermediate_days=60)
    for i, der in enumerate([a, der_of(chain.files.cert), der_of(chain.files.cert, 1)]):
        now[0] += DAY
        store.facts(der)
        assert len(kept(path)) == min(2 + i, 3)
    assert fingerprint(b) not in kept(path)  # the least recently used


def test_no_writable_directory_no_file_and_still_the_facts(
    two: tuple[bytes, bytes], tmp_path: Path
) -> None:
    a, _ = two
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    store = FactsStore(blocked / "registry-monitor" / "facts")
    assert store.facts(a) == read_facts(a)
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "file-not-dir"]


@pytest.mark.parametrize("change", ["this module", "cryptography"])
def test_facts_read_by_other_code_are_read_again(
    two: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A new release of this module or of cryptography may word a name differently: facts
    kept by another are not served, even for a certificate in daily use."""
    a, _ = two
    path = tmp_path / "facts.json"
    plant(path, {fingerprint(a): wrong(1e9)})
    assert FactsStore(path, clock=lambda: 1e9).facts(a).subject == wrong(1e9)[0]  # read: served
    plant(path, {fingerprint(a): wrong(1e9)})
    if change == "this module":
        copy = tmp_path / "certfacts.py"
        copy.write_bytes(Path(certfacts.__file__).read_bytes() + b"\n# the next release\n")
        monkeypatch.setattr(certfacts, "__file__", str(copy))
    else:
        real = provenance.library_version
        monkeypatch.setattr(
            provenance,
            "library_version",
            lambda package, dist: (
                "cryptography-99.0" if package == "cryptography" else real(package, dist)
            ),
        )
    assert FactsStore(path, clock=lambda: 1e9).facts(a) == read_facts(a)


def test_ip_addresses_are_kept_apart_from_dns_names(ca: trustme.CA, tmp_path: Path) -> None:
    """IP SANs are facts too, in ipaddress's spelling, and survive the file."""
    der = der_of(issue(ca, tmp_path / "ip", "localhost", "127.0.0.1", "::1", days=30).cert)
    facts = read_facts(der)
    assert (facts.names, facts.addresses) == (("localhost",), ("127.0.0.1", "::1"))
    path = tmp_path / "facts"
    FactsStore(path).facts(der)
    assert FactsStore(path).facts(der) == facts
    assert kept(path)[fingerprint(der)][5:7] == [["localhost"], ["127.0.0.1", "::1"]]


def test_facts_of_the_format_before_are_read_again(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows as format 1 kept them (DNS names alone, no addresses) never hide an IP SAN, even
    under this code's own maker; and the maker changes with the format."""
    der = der_of(issue(ca, tmp_path / "ip", "localhost", "127.0.0.1", days=30).cert)
    facts = read_facts(der)
    old_row = [*list(facts[1:6]), ["localhost"], int(1e9 // DAY)]  # 7 fields
    path = tmp_path / "facts"
    plant(path, {fingerprint(der): old_row})
    assert FactsStore(path, clock=lambda: 1e9).facts(der).addresses == ("127.0.0.1",)
    made = certfacts.made_by()
    monkeypatch.setattr(certfacts, "FORMAT", certfacts.FORMAT - 1)
    assert certfacts.made_by() != made


def flipped(data: bytes, seed: int) -> bytes:
    """data with one byte at a random place set to another random value."""
    rng = random.Random(seed)
    at = rng.randrange(len(data))
    new = rng.choice([b for b in range(256) if b != data[at]])
    return data[:at] + bytes([new]) + data[at + 1 :]


def test_a_damaged_file_is_no_cache_and_is_replaced(
    two: tuple[bytes, bytes], tmp_path: Path
) -> None:
    """Any byte changed, and the file cut anywhere: the facts are cryptography's reading,
    never a wrong one, and the next save writes a good file again."""
    a, b = two
    good = tmp_path / "good"
    FactsStore(good, clock=lambda: 1e9).facts(a)
    FactsStore(good, clock=lambda: 1e9).facts(b)
    data = good.read_bytes()
    damaged = [flipped(data, seed) for seed in range(300)]
    damaged += [data[:cut] for cut in range(0, len(data), 7)]
    path = tmp_path / "facts"
    for bad in damaged:
        path.write_bytes(bad)
        path.chmod(0o600)
        assert FactsStore(path, clock=lambda: 1e9).facts(b) == read_facts(b)
        assert fingerprint(b) in kept(path)


HOSTILE_BODIES = {
    "deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "a 5,000-digit number": b'{"made_by": ' + b"9" * 5000 + b', "facts": {}}',
    "not UTF-8": b'{"made_by": "\xff\xfe", "facts": {}}',
    "a list": b"[]",
    "NaN date": None,
    "date as text": None,
    "date as an integer": None,
    "names as text": None,
    "an address not text": None,
    "day as a boolean": None,
    "a row of 9": None,
    "a key not hex": None,
    "an extra key": None,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_BODIES))
def test_a_file_with_its_digest_right_but_not_what_save_writes_is_no_cache(
    two: tuple[bytes, bytes], tmp_path: Path, kind: str
) -> None:
    """The digest is no licence: decoding is bounded and every value's type is checked."""
    _, b = two
    path = tmp_path / "facts"
    row = wrong(1e9)
    key = fingerprint(b)
    changed = {
        "NaN date": [*row[:3], float("nan"), *row[4:]],
        "date as text": [*row[:3], "0.0", *row[4:]],
        "date as an integer": [*row[:4], 1, *row[5:]],
        "names as text": [*row[:5], "planted.test", *row[6:]],
        "an address not text": [*row[:6], [127001], row[7]],
        "day as a boolean": [*row[:7], True],
        "a row of 9": [*row, 0],
    }
    body = HOSTILE_BODIES[kind]
    if body is None and kind in changed:
        doc: object = {"made_by": certfacts.made_by(), "facts": {key: changed[kind]}}
        body = json.dumps(doc).encode()
    elif body is None and kind == "a key not hex":
        doc = {"made_by": certfacts.made_by(), "facts": {key: row, "z" * 64: row}}
        body = json.dumps(doc).encode()
    elif body is None:
        doc = {"made_by": certfacts.made_by(), "facts": {key: row}, "more": 1}
        body = json.dumps(doc).encode()
    path.write_bytes(sealed(body))
    path.chmod(0o600)
    assert FactsStore(path, clock=lambda: 1e9).facts(b) == read_facts(b)


def test_a_file_past_the_size_bound_is_not_read(two: tuple[bytes, bytes], tmp_path: Path) -> None:
    _, b = two
    path = tmp_path / "facts"
    plant(path, {fingerprint(b): wrong(1e9)})
    assert FactsStore(path, clock=lambda: 1e9).facts(b).subject == "CN=planted"  # within: read
    padded = {"made_by": certfacts.made_by(), "facts": {fingerprint(b): wrong(1e9)}}
    body = json.dumps(padded).encode() + b" " * certfacts.MAX_FILE_BYTES
    path.write_bytes(sealed(body))
    assert FactsStore(path, clock=lambda: 1e9).facts(b) == read_facts(b)
