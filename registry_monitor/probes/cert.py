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

A healthy steady run loads no cryptography (some 40 ms of imports):
- a certificate's fields come from registry_monitor.tls.certfacts, which keeps
  them by the sha256 of its DER bytes (exact), read by cryptography once;
- when cert_file's certificates are byte for byte the chain nginx sent and
  OpenSSL verified in this run (same trust store, same name), the file is
  valid by that verification, and its intermediates are that verified
  path's; any difference, or no verified served chain, takes cryptography's
  verifier as before;
- OpenSSL loads cert_file with cert_key_file and compares them (as nginx
  does at start); only what that cannot settle goes to cryptography (see
  registry_monitor.tls.certificates.check_key).

The reading itself lives in registry_monitor/tls/reader.py, which the parity
probe reads the same certificates through.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.tls.certificates import KeyStatus, check_key
from registry_monitor.tls.reader import CertReader, CertStatus


@dataclass(frozen=True, slots=True)
class CertsStatus:
    certs: tuple[CertStatus, ...]
    served_matches_file: bool | None  # None when either side is missing
    key: KeyStatus | None = None  # None: cert_key_file not set

    def by_source(self, source: str) -> CertStatus | None:
        return next((c for c in self.certs if c.source == source), None)


class CertProbe(CertReader):
    name = "cert"

    def __call__(self, deadline: Deadline) -> CertsStatus:
        certs: list[CertStatus] = []
        chains: dict[str, list[bytes]] = {}
        if self.check_served:
            certs.append(self.served(deadline, chains))
        if self.cert_file is not None:
            certs.append(self.on_disk(self.cert_file, chains))
        served, on_disk = (
            next((c for c in certs if c.source == s), None) for s in ("served", "file")
        )
        matches = None
        if served and on_disk and served.fetched and on_disk.fetched:
            matches = served.fingerprint_sha256 == on_disk.fingerprint_sha256
        key = None
        if self.key_file is not None:  # nginx's key belongs with the file it is configured with
            chain = chains.get("file") or chains.get("served")
            leaf = chain[0] if chain else None
            # OpenSSL may compare the pair itself when cert_file's first certificate, as it
            # reads it, is that leaf
            openssl_reads = "file_as_pem" in chains and self.cert_file is not None
            key = check_key(self.key_file, leaf, self.cert_file if openssl_reads else None)
        result = CertsStatus(tuple(certs), matches, key)
        missing = [f"{c.source} {c.target}: {c.error}" for c in certs if not c.fetched]
        if missing:
            raise ProbeFailed("; ".join(missing), partial=result)
        return result
