"""The cert probe's judgements that take cryptography (some 40 ms of imports).

Imported only when the probe needs them: to read a certificate file that is
not byte for byte the chain OpenSSL just verified, to verify such a file or
a served chain OpenSSL refused, and to read a private key OpenSSL could not
settle (see registry_monitor.tls.certificates.check_key). A healthy steady run loads none
of it.
"""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from registry_monitor.files import regular_file

DER = serialization.Encoding.DER


def pem_chain(data: bytes) -> list[bytes]:
    """Every certificate of a PEM file, as DER, in order; ValueError if there is none."""
    return [c.public_bytes(DER) for c in x509.load_pem_x509_certificates(data)]


def judge_chain(
    chain: list[bytes], hostname: str, trust: str | bool
) -> tuple[list[bytes], str | None]:
    """chain (DER, leaf first) verified as a TLS server chain for hostname: (the certificates
    whose intermediates count, leaf first; None, or why it does not verify). They are the
    path that verifies, trust anchor left out; all sent but self-signed roots, if none does.
    One verification: it loads the CA bundle, and the chain's keys."""
    certs = [x509.load_der_x509_certificate(der) for der in chain]
    try:
        path = _verify(certs, hostname, trust)
    except _Unverifiable as exc:
        sent = [
            d
            for i, (d, c) in enumerate(zip(chain, certs, strict=True))
            if i == 0 or c.issuer != c.subject
        ]
        return sent, str(exc)
    return [c.public_bytes(DER) for c in path[:-1]], None


def _verify(
    chain: list[x509.Certificate], hostname: str, trust: str | bool
) -> list[x509.Certificate]:
    roots_path = trust if isinstance(trust, str) else None
    if roots_path is None:
        raise _Unverifiable("no CA bundle to verify against")
    try:
        roots = x509.load_pem_x509_certificates(
            regular_file.read_all(roots_path, regular_file.MAX_PEM_BYTES)
        )
    except OSError as exc:
        raise _Unverifiable(f"cannot load CA bundle {roots_path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _Unverifiable(f"cannot load CA bundle {roots_path}: {exc}") from None
    # The served check is OpenSSL's (what clients of nginx do); this one is
    # the Web PKI profile relaxed to judge a certificate by the same rules: a
    # critical subjectAltName or extendedKeyUsage is accepted, and so is a
    # certificate without AuthorityKeyIdentifier (common from internal CAs,
    # which OpenSSL accepts). The name and the serverAuth purpose are checked.
    ee_policy = (
        ExtensionPolicy.webpki_defaults_ee()
        .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_auth)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    )
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None
    )
    builder = (
        PolicyBuilder()
        .store(Store(roots))
        .extension_policies(ee_policy=ee_policy, ca_policy=ca_policy)
    )
    try:
        verifier = builder.build_server_verifier(_subject(hostname))
        return list(verifier.verify(chain[0], chain[1:]))
    except VerificationError as exc:
        raise _Unverifiable(str(exc).split(" (encountered processing", 1)[0]) from None
    except ValueError as exc:
        raise _Unverifiable(f"cannot verify: {exc}") from None


class _Unverifiable(Exception):
    pass


def _subject(host: str) -> x509.DNSName | x509.IPAddress:
    """The name a client checks: an IP address in public_url matches an IP SAN, as in TLS."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _server_auth(
    _policy: object, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        raise ValueError("extendedKeyUsage does not allow TLS server authentication")


def key_state(data: bytes, cert: bytes | None) -> tuple[str, str | None]:
    """(state, error) of the PEM private key `data` against the certificate `cert` (DER)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: encrypted; nginx could not read it either without a passphrase file
        return "not readable", f"no unencrypted PEM private key: {exc}"
    if cert is None:
        return "no certificate to compare", "the certificate was not read"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(DER, spki)
    theirs = x509.load_der_x509_certificate(cert).public_key().public_bytes(DER, spki)
    return ("matches" if mine == theirs else "mismatch"), None
