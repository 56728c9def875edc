"""cert: the certificate nginx serves for public_url, and the one on disk.

The served chain is fetched without verification and verified separately,
so an expired, self-signed or wrong-name certificate still reports its dates
and fields with valid = False, instead of vanishing as a failed handshake
(the blackbox_exporter and ssl_exporter pitfall that makes "expired" look
like "down"). A renewed file that nginx has not reloaded shows as served
fingerprint != file fingerprint.
"""

from __future__ import annotations

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

    @property
    def fetched(self) -> bool:
        return self.fingerprint_sha256 is not None

    def days_left(self, now: float | None = None) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - (time.time() if now is None else now)) / 86400


@dataclass(frozen=True, slots=True)
class CertsStatus:
    certs: tuple[CertStatus, ...]
    served_matches_file: bool | None  # None when either side is missing

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
        return "; ".join(parts)


def describe(source: str, target: str, cert: x509.Certificate) -> CertStatus:
    return CertStatus(
        source=source,
        target=target,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
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

    def __call__(self, deadline: Deadline) -> CertsStatus:
        certs: list[CertStatus] = []
        if self.check_served:
            certs.append(self.served(deadline))
        if self.cert_file is not None:
            certs.append(self.on_disk(self.cert_file))
        served, on_disk = (
            next((c for c in certs if c.source == s), None) for s in ("served", "file")
        )
        matches = None
        if served and on_disk and served.fetched and on_disk.fetched:
            matches = served.fingerprint_sha256 == on_disk.fingerprint_sha256
        result = CertsStatus(tuple(certs), matches)
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
            return ssl.create_default_context(cafile=self.trust)
        return ssl.create_default_context()

    def _handshake(self, ctx: ssl.SSLContext, deadline: Deadline) -> bytes | None:
        with (
            socket.create_connection(self.address, timeout=deadline.io_timeout()) as raw,
            ctx.wrap_socket(raw, server_hostname=self.hostname) as tls,
        ):
            return tls.getpeercert(binary_form=True)

    def served(self, deadline: Deadline) -> CertStatus:
        """One verified handshake when all is well (the usual case: half the cost of
        two); when it fails on TLS, a second one without verification fetches the
        certificate anyway, to report its dates and fields with the reason."""
        try:
            der = self._handshake(self._context(verify=True), deadline)
        except ssl.SSLError as exc:
            return self._unverified(deadline, _ssl_reason(exc))
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            return CertStatus("served", self.served_target, error=f"cannot connect: {reason}")
        if not der:
            return CertStatus("served", self.served_target, error="no certificate presented")
        status = describe("served", self.served_target, x509.load_der_x509_certificate(der))
        return _with_validity(status, True, None)

    def _unverified(self, deadline: Deadline, why_invalid: str) -> CertStatus:
        try:
            der = self._handshake(self._context(verify=False), deadline)
        except ssl.SSLError as exc:
            return CertStatus("served", self.served_target, error=f"TLS error: {_ssl_reason(exc)}")
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            return CertStatus("served", self.served_target, error=f"cannot connect: {reason}")
        if not der:
            return CertStatus("served", self.served_target, error="no certificate presented")
        status = describe("served", self.served_target, x509.load_der_x509_certificate(der))
        return _with_validity(status, False, why_invalid)

    def on_disk(self, path: Path) -> CertStatus:
        target = str(path)
        try:
            chain = x509.load_pem_x509_certificates(path.read_bytes())
        except OSError as exc:
            return CertStatus("file", target, error=f"cannot read: {exc.strerror or exc}")
        except ValueError:
            return CertStatus("file", target, error="no PEM certificate in file")
        status = describe("file", target, chain[0])
        valid, reason = self.verify_chain(chain)
        return _with_validity(status, valid, reason)

    def verify_chain(self, chain: list[x509.Certificate]) -> tuple[bool, str | None]:
        """Verify leaf + intermediates as a TLS server chain for the public name."""
        roots_path = self.trust if isinstance(self.trust, str) else None
        if roots_path is None:
            return False, "no CA bundle to verify against"
        try:
            roots = x509.load_pem_x509_certificates(Path(roots_path).read_bytes())
        except (OSError, ValueError) as exc:
            return False, f"cannot load CA bundle {roots_path}: {exc}"
        # The Web PKI profile, relaxed where OpenSSL (and so nginx's clients) are:
        # a critical subjectAltName or extendedKeyUsage is accepted. The name
        # and the serverAuth purpose are still checked.
        ee_policy = (
            ExtensionPolicy.webpki_defaults_ee()
            .require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_auth)
        )
        builder = (
            PolicyBuilder()
            .store(Store(roots))
            .extension_policies(ee_policy=ee_policy, ca_policy=ExtensionPolicy.webpki_defaults_ca())
        )
        try:
            verifier = builder.build_server_verifier(x509.DNSName(self.hostname))
            verifier.verify(chain[0], chain[1:])
        except VerificationError as exc:
            return False, str(exc).split(" (encountered processing", 1)[0]
        except ValueError as exc:
            return False, f"cannot verify: {exc}"
        return True, None


def _server_auth(
    _policy: object, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        raise ValueError("extendedKeyUsage does not allow TLS server authentication")


def _with_validity(status: CertStatus, valid: bool | None, error: str | None) -> CertStatus:
    return replace(status, valid=valid, error=error)
