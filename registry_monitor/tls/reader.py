"""Reading certificates as nginx's clients meet them: the one it serves for public_url
(a verifying handshake, and only when that fails one without verification), and a
certificate file on disk, each judged with its chain's intermediates.

The cert probe reports what this reads; the parity probe fingerprints the same
certificates through it, from the same kept facts. Below both probes, so that
neither imports the other. The whole story, and why a steady run loads no
cryptography: registry_monitor/probes/cert.py.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.files import regular_file
from registry_monitor.tls import certfacts
from registry_monitor.tls.certificates import (
    earliest_intermediate,
    name_covered,
    peer_chain,
    pem_certificates,
)
from registry_monitor.tls.trust import trust_store


@dataclass(frozen=True, slots=True)
class CertStatus:
    """One certificate: served by nginx or read from a file."""

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
    addresses: tuple[str, ...] = ()  # subjectAltName IP addresses
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


def describe(source: str, target: str, facts: certfacts.CertFacts, host: str) -> CertStatus:
    return CertStatus(
        source=source,
        target=target,
        subject=facts.subject,
        issuer=facts.issuer,
        serial=facts.serial,
        fingerprint_sha256=facts.fingerprint,
        not_before=facts.not_before,
        not_after=facts.not_after,
        names=facts.names,
        addresses=facts.addresses,
        host=host,
        name_matches=name_covered(host, list(facts.names), facts.addresses),
    )


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    return exc.reason or str(exc)


class CertReader:
    """The served certificate and certificate files, read and judged for config's
    public_url, trust store and cert_file."""

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

    def facts(self, der: bytes) -> certfacts.CertFacts:
        return certfacts.store().facts(der)

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

    def served(self, deadline: Deadline, chains: dict[str, list[bytes]]) -> CertStatus:
        """One verifying handshake, as clients of nginx make it; only when it fails, a
        second one without verification fetches what the server sends, so that an
        expired, self-signed or wrong-name certificate still shows its fields.
        chains gets "served" (what was sent) and, when it verified, "verified" (the path
        OpenSSL verified, leaf to trust anchor), as DER."""
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
        chains["served"] = sent
        status = describe("served", self.served_target, self.facts(sent[0]), self.hostname)
        if reason is not None:  # OpenSSL's reason: what clients of nginx are told
            return _with_validity(self.judged(status, sent), False, reason)
        # OpenSSL's own path, leaf to trust anchor: its intermediates are what clients rely on
        chains["verified"] = path
        return _with_validity(self._with_intermediates(status, path[:-1]), True, None)

    def judged(self, status: CertStatus, chain: list[bytes]) -> CertStatus:
        """status verified by cryptography (leaf + intermediates, as a TLS server chain for
        the public name), with the earliest expiry among the intermediates of the path
        that verifies (trust anchor left out); all sent, self-signed roots left out, if
        none does."""
        from registry_monitor.tls.chain_verify import judge_chain

        counted, error = judge_chain(chain, self.hostname, self.trust)
        return _with_validity(self._with_intermediates(status, counted), error is None, error)

    def on_disk(self, path: Path, chains: dict[str, list[bytes]]) -> CertStatus:
        """The file's leaf, judged. chains gets "file" (its certificates, as DER) and
        "file_as_pem" when ssl's own PEM decoding read the same (so OpenSSL's leaf is it)."""
        target = str(path)
        try:
            data = regular_file.read_all(path, regular_file.MAX_PEM_BYTES)
        except OSError as exc:
            return CertStatus("file", target, error=f"cannot read: {exc.strerror or exc}")
        plain = pem_certificates(data)
        if (
            plain is not None
            and plain == chains.get("served")
            and "verified" in chains
            and isinstance(self.trust, str)  # the store cryptography would verify against
        ):
            # what OpenSSL verified in this run, for the same name against the same store
            chains["file"] = chains["file_as_pem"] = plain
            status = describe("file", target, self.facts(plain[0]), self.hostname)
            intermediates = self._with_intermediates(status, chains["verified"][:-1])
            return _with_validity(intermediates, True, None)
        from registry_monitor.tls.chain_verify import pem_chain

        try:
            chain = pem_chain(data)
        except ValueError:
            return CertStatus("file", target, error="no PEM certificate in file")
        chains["file"] = chain
        if plain == chain:
            chains["file_as_pem"] = plain
        return self.judged(describe("file", target, self.facts(chain[0]), self.hostname), chain)

    def _with_intermediates(self, status: CertStatus, chain: list[bytes]) -> CertStatus:
        """status with the earliest expiry among chain[1:] (the leaf first), if any."""
        earliest = earliest_intermediate([self.facts(der) for der in chain])
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
