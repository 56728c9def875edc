"""cert: the certificate nginx serves for public_url, and the one on disk.

The served certificate costs one handshake when healthy: a verifying one,
as nginx's clients make it, which also carries the chain (the certificates
sent and the path OpenSSL verified). Only when verification fails does a
second handshake, without verification, fetch what is served, so an expired,
self-signed or wrong-name certificate still reports its dates and fields
with valid = False, instead of vanishing as a failed handshake (the
blackbox_exporter and ssl_exporter pitfall that makes "expired" look like
"down"). A renewed file that nginx has not reloaded shows as served
fingerprint != file fingerprint.

Beyond the leaf: the chain's intermediates are tracked apart from it (the
earliest notAfter among those on the path that verifies: OpenSSL's own for
the served chain, cryptography's verifier for the file and for a served
chain OpenSSL refused; so a stale cross-signed root sent along does not
raise a false alarm, as it did for blackbox_exporter's users); whether the
subjectAltNames cover the public name is its own finding; and
`cert_key_file`, nginx's private key, is compared with the certificate, "not
readable" being a state of its own, never a mismatch.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.config import Config
from registry_monitor.tls import (
    KeyStatus,
    check_key,
    dns_names,
    earliest_intermediate,
    name_covered,
    peer_chain,
)
from registry_monitor.trust import trust_store


@dataclass(frozen=True, slots=True)
class CertStatus:
    source: str  # "served" or "file"
    target: str  # host:port or path
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    fingerprint_sha256: str | None = None
    not_before: float | None = None  # unix time
    not_after: float | None = None
    valid: bool | None = None  # chain verifies and the name matches; None: not fetched
    error: str | None = None  # why valid is False, or why nothing was fetched
    names: tuple[str, ...] = ()  # subjectAltName DNS names
    host: str | None = None  # public_url's host, which the SANs must cover
    name_matches: bool | None = None  # they do
    chain_not_after: float | None = None  # earliest notAfter of the intermediates; None: none
    chain_first_expiring: str | None = None  # that intermediate's subject

    @property
    def fetched(self) -> bool:
        return self.fingerprint_sha256 is not None

    def days_left(self, now: float | None = None) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - (time.time() if now is None else now)) / 86400

    def lifetime_left_ratio(self, now: float | None = None) -> float | None:
        """Share of the validity period still ahead (1 at notBefore, 0 at notAfter)."""
        if self.not_after is None or self.not_before is None:
            return None
        lifetime = self.not_after - self.not_before
        if lifetime <= 0:
            return 0.0
        left = self.not_after - (time.time() if now is None else now)
        return max(0.0, min(1.0, left / lifetime))

    def chain_days_left(self, now: float | None = None) -> float | None:
        if self.chain_not_after is None:
            return None
        return (self.chain_not_after - (time.time() if now is None else now)) / 86400


@dataclass(frozen=True, slots=True)
class CertsStatus:
    certs: tuple[CertStatus, ...]
    served_matches_file: bool | None  # None when either side is missing
    key: KeyStatus | None = None  # None: cert_key_file not set

    def by_source(self, source: str) -> CertStatus | None:
        return next((c for c in self.certs if c.source == source), None)

    def summary(self) -> str:
        parts = []
        for c in self.certs:
            days = c.days_left()
            if days is None:
                parts.append(f"{c.source}: {c.error}")
                continue
            validity = "valid" if c.valid else f"INVALID ({c.error})"
            parts.append(f"{c.source}: {days:.0f} days left, {validity}")
        if self.served_matches_file is False:
            parts.append("served certificate differs from the file (reload nginx?)")
        if self.key is not None and self.key.state != "matches":
            parts.append(f"key {self.key.path}: {self.key.state}")
        return "; ".join(parts)


def describe(source: str, target: str, cert: x509.Certificate, host: str) -> CertStatus:
    names = dns_names(cert)
    return CertStatus(
        source=source,
        target=target,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        names=tuple(names),
        host=host,
        name_matches=name_covered(host, names),
    )


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    return exc.reason or str(exc)


class CertProbe:
    name = "cert"

    def __init__(self, config: Config) -> None:
        parts = urlsplit(config.public_url)
        self.check_served = parts.scheme == "https"
        self.hostname = parts.hostname or ""
        port = parts.port or 443
        if config.public_connect:
            host, _, p = config.public_connect.rpartition(":")
            self.address = (host.strip("[]"), int(p))
        else:
            self.address = (self.hostname, port)
        self.served_target = f"{self.hostname}:{port}"
        self.trust = trust_store(config.ca_file)
        self.cert_file = config.cert_file
        self.key_file = config.cert_key_file

    def __call__(self, deadline: Deadline) -> CertsStatus:
        certs: list[CertStatus] = []
        leaves: dict[str, x509.Certificate] = {}
        if self.check_served:
            certs.append(self.served(deadline, leaves))
        if self.cert_file is not None:
            certs.append(self.on_disk(self.cert_file, leaves))
        served, on_disk = (
            next((c for c in certs if c.source == s), None) for s in ("served", "file")
        )
        matches = None
        if served and on_disk and served.fetched and on_disk.fetched:
            matches = served.fingerprint_sha256 == on_disk.fingerprint_sha256
        key = None
        if self.key_file is not None:  # nginx's key belongs with the file it is configured with
            key = check_key(self.key_file, leaves.get("file") or leaves.get("served"))
        result = CertsStatus(tuple(certs), matches, key)
        missing = [f"{c.source} {c.target}: {c.error}" for c in certs if not c.fetched]
        if missing:
            raise ProbeFailed("; ".join(missing), partial=result)
        return result

    def _context(self, verify: bool) -> ssl.SSLContext:
        if not verify:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if isinstance(self.trust, str):
            ctx = ssl.create_default_context(cafile=self.trust)
        else:
            ctx = ssl.create_default_context()
        # One profile on every Python: 3.13 turns on X509_STRICT by default, which
        # (among others) refuses a leaf without AuthorityKeyIdentifier; the on-disk
        # check accepts that too (see _verify).
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
        return ctx

    def _handshake(self, verify: bool, deadline: Deadline) -> tuple[list[bytes], list[bytes]]:
        """One TLS handshake: (the chain the server sent, the path OpenSSL verified; empty
        without verification), as DER. Raises _NotFetched, or ssl.SSLError if verifying
        failed."""
        try:
            raw = socket.create_connection(self.address, timeout=deadline.io_timeout())
        except OSError as exc:
            raise _NotFetched(
                f"cannot connect: {exc.strerror or exc or type(exc).__name__}"
            ) from None
        with raw:
            try:
                with self._context(verify).wrap_socket(raw, server_hostname=self.hostname) as tls:
                    return peer_chain(tls, verified=False), (
                        peer_chain(tls, verified=True) if verify else []
                    )
            except ssl.SSLError:
                raise  # an OSError too, but the caller's to judge
            except TimeoutError:
                raise _NotFetched("TLS handshake timed out") from None
            except OSError as exc:
                raise _NotFetched(f"TLS handshake failed: {exc}") from None

    def served(self, deadline: Deadline, leaves: dict[str, x509.Certificate]) -> CertStatus:
        """One verifying handshake, as clients of nginx make it; only when it fails, a
        second one without verification fetches what the server sends, so that an
        expired, self-signed or wrong-name certificate still shows its fields."""
        reason = None
        try:
            sent, path = self._handshake(verify=True, deadline=deadline)
        except _NotFetched as exc:
            return CertStatus("served", self.served_target, error=str(exc))
        except ssl.SSLError as exc:
            reason = _ssl_reason(exc)
            try:
                sent, path = self._handshake(verify=False, deadline=deadline)
            except _NotFetched as again:
                return CertStatus("served", self.served_target, error=str(again))
            except ssl.SSLError as again:
                return CertStatus(
                    "served", self.served_target, error=f"TLS error: {_ssl_text(again)}"
                )
        if not sent:
            return CertStatus("served", self.served_target, error="no certificate presented")
        chain = [x509.load_der_x509_certificate(der) for der in sent]
        leaves["served"] = chain[0]
        status = describe("served", self.served_target, chain[0], self.hostname)
        if reason is not None:  # OpenSSL's reason: what clients of nginx are told
            return _with_validity(self.judged(status, chain), False, reason)
        # OpenSSL's own path, leaf to trust anchor: its intermediates are what clients rely on
        verified = [x509.load_der_x509_certificate(der) for der in path]
        return _with_validity(_with_intermediates(status, verified[:-1]), True, None)

    def judged(self, status: CertStatus, chain: list[x509.Certificate]) -> CertStatus:
        """status verified (leaf + intermediates, as a TLS server chain for the public
        name), with the earliest expiry among the intermediates of the path that
        verifies (trust anchor left out); all sent, self-signed roots left out, if none
        does. One verification: it loads the CA bundle, and the chain's keys."""
        try:
            path = self._verify(chain)
        except _Unverifiable as exc:
            sent = [c for c in chain if c.issuer != c.subject or c is chain[0]]
            return _with_validity(_with_intermediates(status, sent), False, str(exc))
        return _with_validity(_with_intermediates(status, path[:-1]), True, None)

    def on_disk(self, path: Path, leaves: dict[str, x509.Certificate]) -> CertStatus:
        target = str(path)
        try:
            chain = x509.load_pem_x509_certificates(path.read_bytes())
        except OSError as exc:
            return CertStatus("file", target, error=f"cannot read: {exc.strerror or exc}")
        except ValueError:
            return CertStatus("file", target, error="no PEM certificate in file")
        leaves["file"] = chain[0]
        return self.judged(describe("file", target, chain[0], self.hostname), chain)

    def _verify(self, chain: list[x509.Certificate]) -> list[x509.Certificate]:
        roots_path = self.trust if isinstance(self.trust, str) else None
        if roots_path is None:
            raise _Unverifiable("no CA bundle to verify against")
        try:
            roots = x509.load_pem_x509_certificates(Path(roots_path).read_bytes())
        except (OSError, ValueError) as exc:
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
            verifier = builder.build_server_verifier(_subject(self.hostname))
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


def _with_intermediates(status: CertStatus, chain: list[x509.Certificate]) -> CertStatus:
    """status with the earliest expiry among chain[1:] (the leaf first), if any."""
    earliest = earliest_intermediate(chain)
    if earliest is None:
        return status
    return replace(status, chain_not_after=earliest[0], chain_first_expiring=earliest[1])


def _ssl_text(exc: ssl.SSLError) -> str:
    """OpenSSL's words: "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
    gives "wrong version number"."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return text.split("] ", 1)[-1].split(" (_ssl.c", 1)[0] or exc.reason or type(exc).__name__


class _NotFetched(Exception):
    pass


def _with_validity(status: CertStatus, valid: bool | None, error: str | None) -> CertStatus:
    return replace(status, valid=valid, error=error)
