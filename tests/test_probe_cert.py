"""cert probe against the real registry serving TLS, with certificates made for each case."""

import datetime as dt
import errno
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.cert import CertProbe, CertsStatus
from registry_monitor.probes.reading import Reading, run_probe
from registry_monitor.tls.certificates import check_key, name_covered, pem_certificates
from registry_monitor.tls.chain_verify import pem_chain
from testbed.certs import CertFiles, PlainCA, issue, issue_via_intermediate, now, self_signed
from testbed.registry import Registry
from tests.support.tls_reasons import cryptography_refusal, openssl_refusal

NAME = "registry.test"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[CertFiles], Registry]]:
    started: list[Registry] = []

    def start(cert: CertFiles) -> Registry:
        reg = Registry(tmp_path / f"tls{len(started)}", tls=(cert.cert, cert.key)).start()
        started.append(reg)
        return reg

    yield start
    for reg in started:
        reg.stop()


def probe(
    reg: Registry | None,
    ca_file: Path,
    cert_file: Path | None,
    port: int = 0,
    name: str = NAME,
) -> Reading[CertsStatus]:
    config = Config(
        public_url=f"https://[{name}]" if ":" in name else f"https://{name}",
        public_connect=f"127.0.0.1:{reg.port if reg else port}",
        ca_file=ca_file,
        cert_file=cert_file,
    )
    return run_probe(CertProbe(config), Deadline(5))


def test_valid_certificate_served_and_on_disk(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME, days=60)
    r = probe(serve(cert), ca_file, cert.cert)
    assert r.ok, r.error
    served, on_disk = r.value.certs
    for c, source, target in ((served, "served", f"{NAME}:443"), (on_disk, "file", str(cert.cert))):
        assert (c.source, c.target, c.valid, c.error) == (source, target, True, None)
        assert c.fingerprint_sha256 == cert.fingerprint_sha256
        assert c.not_after == cert.not_after.timestamp()
        assert c.not_before == cert.not_before.timestamp()
        assert c.issuer is not None and "Testing CA" in c.issuer
        assert c.days_left() == pytest.approx(60 - 1 / 24, abs=0.01)
    assert r.value.served_matches_file is True


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("127.0.0.1", lambda ca, d, name: (issue(ca, d, name, days=60), None)),
        ("::1", lambda ca, d, name: (issue(ca, d, name, days=60), None)),
        (
            NAME,
            lambda _ca, d, name: (lambda plain: (plain.issue(d, name), plain))(PlainCA.create()),
        ),
        (
            "127.0.0.1",
            lambda _ca, d, name: (lambda plain: (plain.issue(d, name), plain))(PlainCA.create()),
        ),
    ],
    ids=["ip-san", "ipv6-san", "no-authority-key-id", "ip-san-no-authority-key-id"],
)
def test_served_and_on_disk_judge_one_certificate_alike(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    name: str,
    make: Callable[[trustme.CA, Path, str], tuple[CertFiles, PlainCA | None]],
) -> None:
    """An IP address in public_url matches an IP SAN, and a leaf from an internal CA
    without AuthorityKeyIdentifier is accepted: on disk exactly as served."""
    cert, plain = make(ca, tmp_path / "c", name)
    trust = plain.write(tmp_path / "internal-ca.pem") if plain else ca_file
    r = probe(serve(cert), trust, cert.cert, name=name)
    assert r.ok, r.error
    served, on_disk = r.value.certs
    assert [(c.source, c.valid, c.error) for c in (served, on_disk)] == [
        ("served", True, None),
        ("file", True, None),
    ]
    assert on_disk.fingerprint_sha256 == served.fingerprint_sha256 == cert.fingerprint_sha256
    # the names cover the public name, an IP address by an IP SAN: on disk as served
    assert [(c.name_matches, c.names, c.addresses) for c in (served, on_disk)] == 2 * [
        (True, (), (name,)) if ":" in name or name[0].isdigit() else (True, (name,), ())
    ]


@pytest.mark.parametrize(("name", "other"), [("127.0.0.1", "127.0.0.2"), ("127.0.0.1", NAME)])
def test_an_ip_not_in_the_certificate_fails_served_and_on_disk(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    name: str,
    other: str,
) -> None:
    cert = issue(ca, tmp_path / "c", other, days=60)
    reg = serve(cert)
    r = probe(reg, ca_file, cert.cert, name=name)
    served, on_disk = r.value.certs
    # OpenSSL's reason for the served chain, cryptography's for the file, each carried
    assert (served.valid, served.error) == (
        False,
        openssl_refusal(("127.0.0.1", reg.port), name, ca_file),
    )
    assert (on_disk.valid, on_disk.error) == (
        False,
        cryptography_refusal(cert.cert, name, ca_file),
    )
    assert [c.name_matches for c in (served, on_disk)] == [False, False]


@pytest.mark.parametrize(
    "make",
    [
        lambda ca, d: issue(ca, d, NAME, not_before=now() - dt.timedelta(days=10), days=5),
        lambda ca, d: issue(ca, d, NAME, not_before=now() + dt.timedelta(days=1), days=5),
        lambda ca, d: issue(ca, d, "other.test", days=30),
        lambda ca, d: self_signed(d, NAME, days=30),
    ],
    ids=["expired", "not-yet-valid", "wrong-name", "self-signed"],
)
def test_invalid_certificates_still_report_their_fields(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    make: Callable[[trustme.CA, Path], CertFiles],
) -> None:
    cert = make(ca, tmp_path / "c")
    reg = serve(cert)
    r = probe(reg, ca_file, cert.cert)
    assert r.ok, r.error  # fetched, just not valid: a finding, not a probe failure
    served, on_disk = r.value.certs
    # OpenSSL's reason, as a client of nginx is told it
    reason = openssl_refusal(("127.0.0.1", reg.port), NAME, ca_file)
    assert (served.valid, served.error) == (False, reason)
    assert served.fingerprint_sha256 == cert.fingerprint_sha256
    assert served.not_after == cert.not_after.timestamp()
    assert on_disk.valid is False and on_disk.error
    assert r.value.served_matches_file is True


def test_renewed_file_not_yet_served(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    old = issue(ca, tmp_path / "old", NAME, days=5)
    new = issue(ca, tmp_path / "new", NAME, days=90)
    r = probe(serve(old), ca_file, new.cert)
    assert r.ok
    served, on_disk = r.value.certs
    assert (served.fingerprint_sha256, on_disk.fingerprint_sha256) == (
        old.fingerprint_sha256,
        new.fingerprint_sha256,
    )
    assert r.value.served_matches_file is False


def test_missing_file_keeps_the_served_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)
    r = probe(serve(cert), ca_file, tmp_path / "nope.crt")
    assert r.ok is False
    assert r.error == f"file {tmp_path / 'nope.crt'}: cannot read: {os.strerror(errno.ENOENT)}"
    served, on_disk = r.value.certs
    assert (served.valid, served.fingerprint_sha256) == (True, cert.fingerprint_sha256)
    assert on_disk.fetched is False
    assert r.value.served_matches_file is None


def test_nothing_listening(ca_file: Path, tmp_path: Path) -> None:
    from testbed.waiting import closed_port

    r = probe(None, ca_file, None, port=closed_port())
    assert r.ok is False
    assert r.error == f"served {NAME}:443: cannot connect: {os.strerror(errno.ECONNREFUSED)}"
    (served,) = r.value.certs
    assert served.fetched is False


def test_garbage_cert_file(ca_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    config = Config(public_url="http://plain.test", ca_file=ca_file, cert_file=bad)
    r = run_probe(CertProbe(config), Deadline(5))
    assert r.error == f"file {bad}: no PEM certificate in file"


def test_a_fifo_as_the_cert_file_or_ca_bundle_is_refused_at_once(
    ca_file: Path, tmp_path: Path
) -> None:
    import os

    from registry_monitor.probes.reading import ProbeRunner

    fifo = tmp_path / "cert.fifo"
    os.mkfifo(fifo)
    config = Config(public_url="http://plain.test", ca_file=ca_file, cert_file=fifo)
    r = ProbeRunner(CertProbe(config), timeout=5).run()  # a blocked open() would time out
    assert r.error == f"file {fifo}: cannot read: is a FIFO, not a regular file"
    assert check_key(fifo, None).error == "cannot read: is a FIFO, not a regular file"
    from registry_monitor.tls.chain_verify import judge_chain

    leaf = pem_chain(ca_file.read_bytes())
    assert judge_chain(leaf, NAME, str(fifo))[1] == (
        f"cannot load CA bundle {fifo}: is a FIFO, not a regular file"
    )


# --- key, chain and name: what a failover needs of the certificate --------------------


def key_probe(reg: Registry, ca_file: Path, cert_file: Path, key_file: Path) -> CertsStatus:
    config = Config(
        public_url=f"https://{NAME}",
        public_connect=f"127.0.0.1:{reg.port}",
        ca_file=ca_file,
        cert_file=cert_file,
        cert_key_file=key_file,
    )
    r = run_probe(CertProbe(config), Deadline(5))
    assert r.ok, r.error
    return r.value


def test_key_matches_its_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)
    status = key_probe(serve(cert), ca_file, cert.cert, cert.key)
    assert status.key is not None
    assert (status.key.state, status.key.matches, status.key.readable) == ("matches", True, True)


def test_key_of_another_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)
    other = issue(ca, tmp_path / "other", NAME)  # a renewal wrote the key, not the certificate
    status = key_probe(serve(cert), ca_file, cert.cert, other.key)
    assert status.key is not None
    assert (status.key.state, status.key.matches, status.key.error) == ("mismatch", False, None)


def test_key_not_readable_is_not_a_mismatch(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)
    status = key_probe(serve(cert), ca_file, cert.cert, tmp_path / "c")  # a directory
    assert status.key is not None
    assert (status.key.state, status.key.matches, status.key.readable, status.key.error) == (
        "not readable",
        None,
        False,
        "cannot read: is a directory, not a regular file",
    )


def test_intermediate_expiring_before_the_leaf(
    tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    chain = issue_via_intermediate(tmp_path / "c", NAME, days=60, intermediate_days=5)
    r = probe(serve(chain.files), chain.ca_file, chain.files.cert)
    assert r.ok, r.error
    for c in r.value.certs:
        assert (c.valid, c.not_after) == (True, chain.files.not_after.timestamp())
        assert c.chain_not_after == chain.intermediate_not_after.timestamp()
        assert c.chain_first_expiring == "CN=Test Intermediate"


def test_no_intermediates_no_chain_expiry(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)  # signed by the root itself
    r = probe(serve(cert), ca_file, cert.cert)
    assert [(c.chain_not_after, c.name_matches, c.names) for c in r.value.certs] == [
        (None, True, (NAME,)),
        (None, True, (NAME,)),
    ]


def test_names_that_do_not_cover_the_public_name(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", "*.other.test", "registry.test.example")
    r = probe(serve(cert), ca_file, cert.cert)
    served, on_disk = r.value.certs
    assert (served.name_matches, served.host, served.names) == (
        False,
        NAME,
        ("*.other.test", "registry.test.example"),
    )
    assert on_disk.name_matches is False


def test_wildcard_covers_one_label() -> None:
    assert name_covered("docker-registry.tools.wmflabs.org", ["*.tools.wmflabs.org"])
    assert not name_covered("a.docker-registry.tools.wmflabs.org", ["*.tools.wmflabs.org"])
    assert not name_covered("tools.wmflabs.org", ["*.tools.wmflabs.org"])
    assert name_covered("Registry.Test.", ["registry.test"])


def test_an_ip_address_is_covered_by_an_equal_ip_san_alone() -> None:
    """As TLS clients judge it (RFC 6125 6.2): no wildcard, no DNS name spelling it."""
    assert name_covered("127.0.0.1", ["localhost"], ["127.0.0.1"])
    assert name_covered("::1", [], ["0:0:0:0:0:0:0:1"])
    assert name_covered("[::1]", [], ["::1"])
    assert not name_covered("127.0.0.1", ["127.0.0.1", "*.0.0.1"], [])
    assert not name_covered("127.0.0.1", ["localhost"], ["127.0.0.2", "::ffff:127.0.0.1"])
    assert not name_covered("registry.test", ["other.test"], ["127.0.0.1"])


def test_no_tls_at_all_is_a_tls_error(ca_file: Path, tmp_path: Path) -> None:
    """Plain HTTP where TLS is expected: both handshakes fail, nothing is fetched, and the
    error is OpenSSL's words (their wording varies between OpenSSL versions)."""
    plain = Registry(tmp_path / "plain").start()
    try:
        r = probe(plain, ca_file, None)
    finally:
        plain.stop()
    assert r.ok is False and r.error is not None
    prefix = f"served {NAME}:443: TLS error: "
    assert r.error.startswith(prefix), r.error
    detail = r.error.removeprefix(prefix)
    assert detail and "[SSL" not in detail and "_ssl.c" not in detail, detail
    (served,) = r.value.certs
    assert (served.fetched, served.valid) == (False, None)


# --- what a healthy run takes without cryptography, and where it still decides ----------


def test_a_file_other_than_the_served_chain_is_judged_by_cryptography(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    """nginx serves a good certificate, the file holds an expired one: OpenSSL's
    verification of the served chain says nothing of the file."""
    good = issue(ca, tmp_path / "good", NAME, days=60)
    expired = issue(ca, tmp_path / "old", NAME, not_before=now() - dt.timedelta(days=10), days=5)
    r = probe(serve(good), ca_file, expired.cert)
    served, on_disk = r.value.certs
    assert (served.valid, served.error) == (True, None)
    assert (on_disk.valid, on_disk.error, on_disk.fingerprint_sha256) == (
        False,
        cryptography_refusal(expired.cert, NAME, ca_file),
        expired.fingerprint_sha256,
    )


def test_a_file_with_more_than_the_served_chain_is_verified_on_its_own(
    tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    """The served chain and the root after it: not byte for byte what was verified, so
    cryptography verifies the file (and leaves the root out of the intermediates)."""
    chain = issue_via_intermediate(tmp_path / "c", NAME, days=60, intermediate_days=30)
    reg = serve(chain.files)
    longer = tmp_path / "longer.crt"
    longer.write_bytes(chain.files.cert.read_bytes() + chain.ca_file.read_bytes())
    r = probe(reg, chain.ca_file, longer)
    assert r.ok, r.error
    served, on_disk = r.value.certs
    for c in (served, on_disk):
        assert (c.valid, c.error, c.chain_first_expiring) == (True, None, "CN=Test Intermediate")
        assert c.chain_not_after == chain.intermediate_not_after.timestamp()
    assert r.value.served_matches_file is True


def test_pem_certificates_read_as_openssl_and_cryptography_would(
    tmp_path: Path,
) -> None:
    chain = issue_via_intermediate(tmp_path / "c", NAME, days=60, intermediate_days=30)
    pem = chain.files.cert.read_bytes()
    ders = pem_certificates(pem)
    assert ders is not None and ders == pem_chain(pem)
    key = chain.files.key.read_bytes()
    assert pem_certificates(key + b"\r\n" + pem.replace(b"\n", b"\r\n")) == ders
    assert pem_certificates(key) is None
    assert pem_certificates(b"") is None
    # another label, or a body that is not plain base64: not read here
    assert pem_certificates(pem.replace(b" CERTIFICATE-", b" X509 CERTIFICATE-", 2)) is None
    assert pem_certificates(pem.replace(b"-----\nMII", b"-----\nMI*I", 1)) is None


def key_files(ca: trustme.CA, cert: CertFiles, d: Path) -> dict[str, Path]:
    """The keys a cert_key_file may hold, against cert (an EC key)."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    d.mkdir()
    pem, pkcs8 = s.Encoding.PEM, s.PrivateFormat.PKCS8
    own = s.load_pem_private_key(cert.key.read_bytes(), None)
    other = issue(ca, d / "other", NAME)
    blobs = {
        "own": cert.key.read_bytes(),
        "own, after the certificate": cert.cert.read_bytes() + cert.key.read_bytes(),
        "another EC key": other.key.read_bytes(),
        "an RSA key": rsa.generate_private_key(65537, 2048).private_bytes(
            pem, pkcs8, s.NoEncryption()
        ),
        "own, encrypted": own.private_bytes(pem, pkcs8, s.BestAvailableEncryption(b"secret")),
        "another, encrypted (traditional)": ec.generate_private_key(ec.SECP256R1()).private_bytes(
            pem, s.PrivateFormat.TraditionalOpenSSL, s.BestAvailableEncryption(b"secret")
        ),
        "garbage": b"not a key\n",
        "empty": b"",
    }
    files = {}
    for i, (label, blob) in enumerate(blobs.items()):
        files[label] = d / f"{i}.key"
        files[label].write_bytes(blob)
    return files


KEY_STATES = {
    "own": ("matches", None),
    "own, after the certificate": ("matches", None),
    "another EC key": ("mismatch", None),
    "an RSA key": ("mismatch", None),
    "own, encrypted": (
        "not readable",
        "no unencrypted PEM private key: Password was not given but private key is encrypted",
    ),
    "another, encrypted (traditional)": (
        "not readable",
        "no unencrypted PEM private key: Password was not given but private key is encrypted",
    ),
    "garbage": ("not readable", "no unencrypted PEM private key: Unable to load PEM file. "),
    "empty": ("not readable", "no unencrypted PEM private key: Unable to load PEM file. "),
}


def test_openssl_and_cryptography_judge_every_key_alike(ca: trustme.CA, tmp_path: Path) -> None:
    """OpenSSL's own comparison (cert_file given) and cryptography's (none): the same
    state and words for each kind of key file; an encrypted key never prompts."""
    cert = issue(ca, tmp_path / "c", NAME)
    leaf = pem_chain(cert.cert.read_bytes())[0]
    for label, path in key_files(ca, cert, tmp_path / "keys").items():
        by_openssl = check_key(path, leaf, cert.cert)
        by_cryptography = check_key(path, leaf, None)
        assert by_openssl == by_cryptography, label
        state, error = KEY_STATES[label]
        assert by_openssl.state == state, label
        assert (by_openssl.error or "")[: len(error or "")] == (error or ""), label
        assert (by_openssl.error is None) == (error is None), label


def test_a_key_that_matches_or_not_is_judged_without_cryptography(
    ca: trustme.CA, tmp_path: Path
) -> None:
    cert = issue(ca, tmp_path / "c", NAME)
    keys = key_files(ca, cert, tmp_path / "keys")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from registry_monitor.tls.certificates import check_key, pem_certificates\n"
        "cert = Path(sys.argv[1])\n"
        "leaf = pem_certificates(cert.read_bytes())[0]\n"
        "print(check_key(Path(sys.argv[2]), leaf, cert).state,\n"
        "      any(m.startswith('cryptography') for m in sys.modules))\n"
    )
    for label, loads in (("own", False), ("another EC key", False), ("an RSA key", True)):
        done = subprocess.run(
            [sys.executable, "-c", code, str(cert.cert), str(keys[label])],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert done.stdout.split() == [KEY_STATES[label][0], str(loads)], label
