"""The certificate facts store: keyed by the DER's sha256, trusted only when it is ours."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest
import trustme

from registry_monitor import certfacts, provenance
from registry_monitor.certfacts import FactsStore, fingerprint, read_facts
from registry_monitor.chain_verify import pem_chain
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


def plant(path: Path, rows: dict[str, tuple[object, ...]]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_bytes(marshal.dumps((certfacts.made_by(), rows)))
    path.chmod(0o600)


def wrong(day: float) -> tuple[object, ...]:
    return ("CN=planted", "CN=planted", "1", 0.0, 1.0, ("planted.test",), int(day // DAY))


def test_facts_are_cryptographys_reading_and_kept_in_a_private_file(
    two: tuple[bytes, bytes], tmp_path: Path
) -> None:
    a, b = two
    path = tmp_path / "cache" / "registry-monitor" / "cert-facts.marshal"
    store = FactsStore(path)
    facts = store.facts(b)
    assert facts == read_facts(b)
    assert facts.fingerprint == fingerprint(b) and len(facts.fingerprint) == 64
    assert (facts.names, facts.not_after - facts.not_before) == (("b.test", "*.b.test"), 60 * DAY)
    assert "b.test" not in store.facts(a).names
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    # a new process: the file answers, by the same key
    assert FactsStore(path).facts(b) == facts
    kind, rows = marshal.loads(path.read_bytes())
    assert (kind, sorted(rows)) == (certfacts.made_by(), sorted([fingerprint(a), fingerprint(b)]))


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
        path.write_bytes(marshal.dumps(("made by another version", {fingerprint(b): wrong(1e9)})))
    else:  # a row of the wrong shape: a serial as a number
        plant(path, {fingerprint(b): (*wrong(1e9)[:2], 1, *wrong(1e9)[3:])})
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
    assert len(marshal.loads(path.read_bytes())[1]) == 2
    now[0] += (certfacts.PRUNE_DAYS - 5) * DAY
    store.facts(b)  # a day later for b: its use is recorded, a's is 35 days old
    assert list(marshal.loads(path.read_bytes())[1]) == [fingerprint(b)]

    monkeypatch.setattr(certfacts, "MAX_ENTRIES", 3)
    chain = issue_via_intermediate(tmp_path / "chain", "c.test", days=30, intermediate_days=60)
    for i, der in enumerate([a, der_of(chain.files.cert), der_of(chain.files.cert, 1)]):
        now[0] += DAY
        store.facts(der)
        assert len(marshal.loads(path.read_bytes())[1]) == min(2 + i, 3)
    assert fingerprint(b) not in marshal.loads(path.read_bytes())[1]  # the least recently used


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
    path = tmp_path / "facts.marshal"
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
