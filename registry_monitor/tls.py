"""Certificate facts the cert probe needs beyond "the handshake verified".

- the chain a TLS connection carries, as DER: the path OpenSSL verified (leaf
  to trust anchor) and all the server sent (leaf first), so the
  intermediates' expiry can be tracked apart from the leaf's;
- whether a private key belongs to a certificate;
- whether a certificate's subjectAltNames cover a host name (RFC 6125: one
  wildcard, left-most label only), as its own finding, apart from "valid".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509


def peer_chain(tls: ssl.SSLSocket, verified: bool) -> list[bytes]:
    """DER certificates of a connection that shook hands: the path OpenSSL verified,
    leaf to trust anchor (empty without verification), or all the server sent."""
    name = "get_verified_chain" if verified else "get_unverified_chain"
    public = getattr(tls, name, None)
    if public is not None:  # Python >= 3.13: public, as DER
        return list(public())
    # Python 3.10-3.12 have the same methods only on the C-level object (ssl._ssl._SSLSocket),
    # returning _ssl.Certificate; 3.13 made them public as this very conversion.
    certs = getattr(tls._sslobj, name)() or []  # type: ignore[attr-defined]
    return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in certs]  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class KeyStatus:
    path: str
    state: str  # "matches", "mismatch", "not readable", "no certificate to compare"
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.state in ("matches", "mismatch")

    @property
    def matches(self) -> bool | None:
        return {"matches": True, "mismatch": False}.get(self.state)


def check_key(path: Path, cert: x509.Certificate | None) -> KeyStatus:
    """Does the private key in path belong to cert? Unreadable is its own state."""
    # Here, not at the top: the key parsers pull in much of cryptography (~20 ms),
    # and only a configured cert_key_file needs them.
    from cryptography.hazmat.primitives import serialization

    target = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return KeyStatus(target, "not readable", f"cannot read: {exc.strerror or exc}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: encrypted; nginx could not read it either without a passphrase file
        return KeyStatus(target, "not readable", f"no unencrypted PEM private key: {exc}")
    if cert is None:
        return KeyStatus(target, "no certificate to compare", "the certificate was not read")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    mine = key.public_key().public_bytes(der, spki)
    theirs = cert.public_key().public_bytes(der, spki)
    return KeyStatus(target, "matches" if mine == theirs else "mismatch")


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in san.value.get_values_for_type(x509.DNSName)]


def name_covered(host: str, names: list[str]) -> bool:
    """True if one SAN DNS name matches host (a `*.` wildcard covers one label)."""
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, _, rest = host.partition(".")
            if label and rest == name[2:]:
                return True
    return False


def earliest_intermediate(
    chain: list[x509.Certificate],
) -> tuple[float, str] | None:
    """(notAfter, subject) of the first of chain[1:] to expire, or None without any."""
    rest = chain[1:]
    if not rest:
        return None
    first = min(rest, key=lambda c: c.not_valid_after_utc)
    return first.not_valid_after_utc.timestamp(), first.subject.rfc4514_string()
