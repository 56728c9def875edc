"""What the cert probe needs of TLS beyond "the handshake verified", by ssl alone.

- the chain a TLS connection carries, as DER: the path OpenSSL verified (leaf
  to trust anchor) and all the server sent (leaf first), so the
  intermediates' expiry can be tracked apart from the leaf's;
- whether a private key belongs to a certificate (cryptography's key
  parsers, imported only then);
- whether a certificate's subjectAltNames cover a host name (RFC 6125: one
  wildcard, left-most label only), as its own finding, apart from "valid".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry_monitor.certfacts import CertFacts


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


def check_key(path: Path, cert: bytes | None) -> KeyStatus:
    """Does the private key in path belong to cert (DER)? Unreadable is its own state."""
    target = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return KeyStatus(target, "not readable", f"cannot read: {exc.strerror or exc}")
    from registry_monitor.chain_verify import key_state

    state, error = key_state(data, cert)
    return KeyStatus(target, state, error)


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


def earliest_intermediate(chain: list[CertFacts]) -> tuple[float, str] | None:
    """(notAfter, subject) of the first of chain[1:] to expire, or None without any."""
    rest = chain[1:]
    if not rest:
        return None
    first = min(rest, key=lambda c: c.not_after)
    return first.not_after, first.subject
