"""Which CA bundle to verify TLS against: shared by the HTTP probes and the cert probe.

A module of its own (ssl only), so that the cert check does not load the
HTTP client just to find the bundle.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def trust_store(ca_file: Path | None) -> str | bool:
    """ca_file, else the system's CA bundle file, else True: the ssl module's default paths."""
    if ca_file is not None:
        return str(ca_file)
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return True
