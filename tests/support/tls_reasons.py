"""The libraries' own reasons for refusing a certificate, asked of them in the test.

The cert probe carries OpenSSL's reason (a served certificate) and
cryptography's (a file) into its answer. Their wording changes between
releases (cryptography 51 added the name to "no matching subjectAltName",
OpenSSL 3 spells "self-signed"), so a test never writes it down: it asks the
library the same question and asserts that the answer carries the reason it
gets.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError


def openssl_refusal(address: tuple[str, int], server_hostname: str, cafile: Path | None) -> str:
    """What OpenSSL tells a client verifying the server at address for server_hostname
    against cafile (the system's CAs if None), as ssl's verify_message: what the probes'
    verifying handshakes are told."""
    ctx = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    with socket.create_connection(address, timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=server_hostname):
                pass
        except ssl.SSLCertVerificationError as exc:
            assert exc.verify_message, exc
            return str(exc.verify_message)
    raise AssertionError(f"OpenSSL accepts the certificate of {address} for {server_hostname}")


def cryptography_refusal(cert_file: Path, hostname: str, cafile: Path) -> str:
    """cryptography's reason for refusing cert_file's chain as a TLS server's for hostname,
    up to the certificate it names (" (encountered processing <Certificate...>)"), which
    the probe leaves out."""
    leaf, *rest = x509.load_pem_x509_certificates(cert_file.read_bytes())
    roots = x509.load_pem_x509_certificates(cafile.read_bytes())
    try:
        subject: x509.DNSName | x509.IPAddress = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        subject = x509.DNSName(hostname)
    verifier = PolicyBuilder().store(Store(roots)).build_server_verifier(subject)
    try:
        verifier.verify(leaf, rest)
    except VerificationError as exc:
        reason = str(exc).split(" (encountered processing", 1)[0]
        assert reason, exc
        return reason
    raise AssertionError(f"cryptography accepts {cert_file} for {hostname}")
