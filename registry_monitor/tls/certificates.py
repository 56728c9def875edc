"""What the cert probe needs of TLS beyond "the handshake verified", by ssl alone.

- the chain a TLS connection carries, as DER: the path OpenSSL verified (leaf
  to trust anchor) and all the server sent (leaf first), so the
  intermediates' expiry can be tracked apart from the leaf's;
- the certificates of a PEM file, as DER (ssl's own decoding), to compare
  with what nginx serves;
- whether a private key belongs to a certificate: OpenSSL's own check, the
  one nginx makes when it starts; cryptography only for the outcomes that
  check does not settle (an encrypted key, no key at all, a key of another
  type), whose words the report keeps;
- whether a certificate's subjectAltNames cover public_url's host (RFC 6125: one
  wildcard, left-most label only; an IP address only by an equal IP SAN), as
  its own finding, apart from "valid".
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registry_monitor.files import regular_file

if TYPE_CHECKING:
    from registry_monitor.tls.certfacts import CertFacts


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
    """Whether cert_key_file is the key of cert_file."""

    path: str
    state: str  # "matches", "mismatch", "not readable", "no certificate to compare"
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.state in ("matches", "mismatch")

    @property
    def matches(self) -> bool | None:
        return {"matches": True, "mismatch": False}.get(self.state)


def check_key(path: Path, cert: bytes | None, cert_file: Path | None = None) -> KeyStatus:
    """Does the private key in path belong to cert (DER)? Unreadable is its own state.

    cert_file, when given, is a PEM file whose first certificate is cert: OpenSSL then
    loads the pair and compares them, as nginx does when it starts, which settles
    "matches" and "mismatch" (a key of the certificate's type with other values). Any
    other outcome (encrypted, not a key, a key of another type) is judged by
    cryptography's key parsers, imported only then, whose words the report keeps.
    """
    target = str(path)
    try:
        data = regular_file.read_all(path, regular_file.MAX_PEM_BYTES)
    except OSError as exc:
        return KeyStatus(target, "not readable", f"cannot read: {exc.strerror or exc}")
    if cert is not None and cert_file is not None:
        state = _openssl_pair(cert_file, path)
        if state is not None:
            return KeyStatus(target, state)
    from registry_monitor.tls.chain_verify import key_state

    state, error = key_state(data, cert)
    return KeyStatus(target, state, error)


class _Encrypted(Exception):
    pass


def _no_password() -> bytes:
    raise _Encrypted  # never OpenSSL's own prompt on a terminal


def _openssl_pair(cert_file: Path, key_file: Path) -> str | None:
    """ "matches" or "mismatch" as OpenSSL finds the pair; None when it cannot say."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert_file, key_file, password=_no_password)
    except ssl.SSLError as exc:
        return "mismatch" if exc.reason == "KEY_VALUES_MISMATCH" else None
    except Exception:  # encrypted, unreadable, gone: cryptography's words for it
        return None
    return "matches"


_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
_OTHER_CERT_LABEL = re.compile(r"-----BEGIN (?:X509|TRUSTED) CERTIFICATE-----")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/=\s]*")


def pem_certificates(data: bytes) -> list[bytes] | None:
    """The CERTIFICATE blocks of a PEM file, as DER, in order (ssl's decoding). None
    when there is none, when a block's body is not plain base64, or when a certificate
    block has another label (X509 or TRUSTED CERTIFICATE: read by OpenSSL or
    cryptography, not here), so that a list is what both would read."""
    text = data.decode("latin-1")
    if _OTHER_CERT_LABEL.search(text):
        return None
    ders = []
    for block in _CERT_BLOCK.findall(text):
        body = block[len(ssl.PEM_HEADER) : -len(ssl.PEM_FOOTER)]
        if not _BASE64_BODY.fullmatch(body):
            return None
        try:
            ders.append(ssl.PEM_cert_to_DER_cert(block))
        except ValueError:  # binascii.Error included
            return None
    return ders or None


def name_covered(host: str, names: list[str], addresses: list[str] | tuple[str, ...] = ()) -> bool:
    """True if the subjectAltNames cover host, as TLS clients judge it: an IP address
    only by an IP SAN equal to it (no wildcards), a host name only by a DNS SAN (a `*.`
    wildcard covers one label)."""
    ip = ip_literal(host)
    if ip is not None:
        return any(ip_literal(a) == ip for a in addresses)
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, _, rest = host.partition(".")
            if label and rest == name[2:]:
                return True
    return False


def ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """text as an IP address (`[::1]` as ::1), or None if it is a host name."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def earliest_intermediate(chain: list[CertFacts]) -> tuple[float, str] | None:
    """(notAfter, subject) of the first of chain[1:] to expire, or None without any."""
    rest = chain[1:]
    if not rest:
        return None
    first = min(rest, key=lambda c: c.not_after)
    return first.not_after, first.subject
