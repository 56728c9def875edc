"""Test certificates with the validity each test needs (trustme; cryptography if self-signed)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class CertFiles:
    cert: Path  # leaf + intermediates, as nginx's ssl_certificate wants it
    key: Path
    fingerprint_sha256: str
    not_after: dt.datetime
    not_before: dt.datetime


def _fingerprint(pem: bytes) -> str:
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def issue(
    ca: trustme.CA,
    directory: Path,
    *names: str,
    days: float = 90,
    not_before: dt.datetime | None = None,
    stem: str = "server",
) -> CertFiles:
    """A leaf for names, valid from not_before (default: an hour ago) for `days` days."""
    start = not_before or now() - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=days)
    leaf = ca.issue_cert(*names, not_before=start, not_after=end)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key_path.write_bytes(leaf.private_key_pem.bytes())
    key_path.chmod(0o600)
    return CertFiles(cert_path, key_path, _fingerprint(leaf.cert_chain_pems[0].bytes()), end, start)


def _write(
    directory: Path,
    stem: str,
    leaf: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    start: dt.datetime,
    end: dt.datetime,
    chain: tuple[x509.Certificate, ...] = (),
) -> CertFiles:
    """The leaf (and the chain nginx would send after it) and its key, as acme writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(b"".join(c.public_bytes(pem) for c in (leaf, *chain)))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return CertFiles(cert_path, key_path, _fingerprint(leaf.public_bytes(pem)), end, start)


def self_signed(directory: Path, name: str, days: float = 90, stem: str = "self") -> CertFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = now() - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key, start, end)


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


def _ca_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = issuer if issuer else (name, key)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )


@dataclass(frozen=True)
class Chain:
    ca_file: Path  # the root, for ca_file
    files: CertFiles  # leaf + intermediate, and the leaf's key
    intermediate_not_after: dt.datetime


def issue_via_intermediate(
    directory: Path, name: str, days: float, intermediate_days: float, stem: str = "chained"
) -> Chain:
    """root -> intermediate (valid `intermediate_days` from an hour ago) -> leaf for name."""
    start = now() - dt.timedelta(hours=1)
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _ca_cert("Test Root", root_key, None, start, start + dt.timedelta(days=3650))
    mid_end = start + dt.timedelta(days=intermediate_days)
    mid = _ca_cert("Test Intermediate", mid_key, (root.subject, root_key), start, mid_end)
    end = start + dt.timedelta(days=days)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(mid.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(mid_key.public_key()), critical=False
        )
        .sign(mid_key, hashes.SHA256())
    )
    files = _write(directory, stem, leaf, leaf_key, start, end, chain=(mid,))
    ca_path = directory / "root.pem"
    ca_path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return Chain(ca_path, files, mid_end)


@dataclass(frozen=True)
class PlainCA:
    """An internal CA as many sites run one: no AuthorityKeyIdentifier in what it issues."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str = "Internal CA") -> PlainCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = now() - dt.timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, directory: Path, name: str, days: float = 90) -> CertFiles:
        """A server leaf for name (a DNS name or an IP address), without AuthorityKeyIdentifier."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = now() - dt.timedelta(hours=1)
        end = start + dt.timedelta(days=days)
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            san = x509.DNSName(name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return _write(directory, "server", cert, key, start, end)
