"""Certificate facts the cert probe needs beyond one verified handshake.

- the whole chain a server sends, unverified (pyOpenSSL: Python's ssl module
  shows only the leaf before 3.13), so the intermediates' expiry can be
  tracked apart from the leaf's;
- whether a private key belongs to a certificate;
- whether a certificate's subjectAltNames cover a host name (RFC 6125: one
  wildcard, left-most label only), as its own finding, apart from "valid".
"""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from registry_monitor.base import Deadline


class ChainFetchError(Exception):
    pass


def fetch_chain(
    address: tuple[str, int], server_name: str, deadline: Deadline
) -> list[x509.Certificate]:
    """The certificates the server sends, leaf first, without verifying them."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    try:
        raw = socket.create_connection(address, timeout=deadline.io_timeout())
    except OSError as exc:
        raise ChainFetchError(
            f"cannot connect: {exc.strerror or exc or type(exc).__name__}"
        ) from None
    with raw:
        conn = SSL.Connection(ctx, raw)
        conn.set_tlsext_host_name(server_name.encode("idna"))
        conn.set_connect_state()
        while True:  # the socket has a time-out, so it is non-blocking underneath
            try:
                conn.do_handshake()
                break
            except (SSL.WantReadError, SSL.WantWriteError) as want:
                reading = isinstance(want, SSL.WantReadError)
                ready = select.select(
                    [raw] if reading else [], [] if reading else [raw], [], deadline.io_timeout()
                )
                if not any(ready) or deadline.expired():
                    raise ChainFetchError("TLS handshake timed out") from None
            except SSL.Error as exc:
                raise ChainFetchError(f"TLS error: {_openssl_reason(exc)}") from None
            except OSError as exc:
                raise ChainFetchError(f"TLS handshake failed: {exc}") from None
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    return list(chain)


def _openssl_reason(exc: SSL.Error) -> str:
    parts = [p[2] for p in exc.args[0] if isinstance(p, tuple) and len(p) == 3] if exc.args else []
    return ", ".join(str(p) for p in parts) or str(exc) or type(exc).__name__


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
