"""What the cert probe reads from a certificate, remembered by the certificate's own bytes.

The facts (subject and issuer as RFC 4514 strings, serial, notBefore,
notAfter, subjectAltName DNS names and IP addresses) are a pure function of a
certificate's DER bytes, so a store keyed by their sha256 (the fingerprint
the probe reports) is exact: a certificate that differs by one byte is
another key, and no clock, copy or renewal can make the store serve a stale
fact. Reading them takes cryptography's x509 parser, some 40 ms of imports;
with the store, a steady run of the probe needs none.

Every process keeps what it read in memory (the exporter needs no more).
check_registry, a new process each minute, also keeps the facts in a file
its face names (`keep_on_disk`): the sha256 of a JSON document, a newline,
the document; written whole and atomically (directory 0700, file 0600),
trusted only when this user owns it and nobody else may write it, and read
only up to MAX_FILE_BYTES. JSON, not marshal or pickle: its decoding is
bounded by the bytes it is given (marshal trusts the lengths it reads, and
one flipped byte made it allocate gigabytes); the digest, so that a changed
byte that still reads as JSON (a digit of a date) is not served. Anything
wrong with the file (absent, foreign, too big, another digest, not JSON,
not exactly the shape and types written) means reading the certificate
again, and the next save replaces it. Entries not used for PRUNE_DAYS are dropped, and at most
MAX_ENTRIES are kept (the most recently used), so the file cannot grow
without bound.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from registry_monitor.files import private_file, provenance

FORMAT = 2  # 2: JSON, IP addresses kept (1 was marshal, DNS names alone)
MAX_ENTRIES = 64
PRUNE_DAYS = 30
MAX_FILE_BYTES = 1 << 20  # read no more: 64 entries take some 64 KiB


class CertFacts(NamedTuple):  # not a dataclass, which costs ten times as much to define
    fingerprint: str  # sha256 of the DER bytes, hex: the key
    subject: str  # RFC 4514
    issuer: str
    serial: str  # hex
    not_before: float  # unix time
    not_after: float
    names: tuple[str, ...]  # subjectAltName DNS names
    addresses: tuple[str, ...] = ()  # subjectAltName IP addresses, as ipaddress writes them


def fingerprint(der: bytes) -> str:
    import hashlib  # here: only a probe that holds a certificate needs it

    return hashlib.sha256(der).hexdigest()


def read_facts(der: bytes) -> CertFacts:
    """The facts, parsed from der by cryptography (imported here: only on a miss)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n) for n in san.get_values_for_type(x509.DNSName))
        addresses = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = addresses = ()
    return CertFacts(
        fingerprint(der),
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        format(cert.serial_number, "x"),
        cert.not_valid_before_utc.timestamp(),
        cert.not_valid_after_utc.timestamp(),
        names,
        addresses,
    )


def made_by() -> str:
    """What the facts on disk were read by, as a digest: this module (read_facts) and
    cryptography, whose version may word a name differently; a file made by others is
    read as empty."""
    import hashlib

    made = (FORMAT, *provenance.identity([__file__], [("cryptography", "cryptography")]))
    return hashlib.sha256(repr(made).encode()).hexdigest()


# On disk: the body's sha256 (hex), a newline, the body, JSON: {"made_by": made_by(),
# "facts": {fingerprint: [subject, issuer, serial, not_before, not_after, [names],
# [addresses], day last used]}}, days counted from the epoch.
_Row = tuple[str, str, str, float, float, tuple[str, ...], tuple[str, ...], int]
_HEX = frozenset("0123456789abcdef")


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _row(value: object) -> _Row | None:
    """value, decoded from JSON, as a row if it is one exactly; else None."""
    if not (isinstance(value, list) and len(value) == 8):
        return None
    subject, issuer, serial, not_before, not_after, names, addresses, used = value
    if not all(isinstance(s, str) for s in (subject, issuer, serial)):
        return None
    if not all(isinstance(t, float) and math.isfinite(t) for t in (not_before, not_after)):
        return None
    dns, ips = _strings(names), _strings(addresses)
    if dns is None or ips is None:
        return None
    if not isinstance(used, int) or isinstance(used, bool):
        return None
    return subject, issuer, serial, not_before, not_after, dns, ips, used


def _encode(rows: dict[str, _Row], made: str) -> bytes:
    import hashlib
    import json  # here: only a run that keeps facts on disk writes them

    doc = {"made_by": made, "facts": rows}
    body = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _decode(data: bytes, made: str) -> dict[str, _Row] | None:
    """The rows of a file _encode wrote for `made`, or None for anything else: another
    digest, not JSON (a number of thousands of digits and nesting past the recursion
    limit included), another maker, another shape, a value of another type."""
    import hashlib
    import json

    digest, _, body = data.partition(b"\n")
    if digest != hashlib.sha256(body).hexdigest().encode():
        return None
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return None
    if not (isinstance(doc, dict) and doc.keys() == {"made_by", "facts"}):
        return None
    if doc["made_by"] != made or not isinstance(doc["facts"], dict):
        return None
    rows = {}
    for key, value in doc["facts"].items():
        row = _row(value)
        if row is None or len(key) != 64 or not _HEX.issuperset(key):
            return None  # not what _encode wrote: none of it is trusted
        rows[key] = row
    return rows


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a date")  # NaN, Infinity: never written by save


class FactsStore:
    """Facts by fingerprint: in memory, and in `path` when one is given."""

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._rows: dict[str, _Row] = {}
        self._loaded = path is None
        self._lock = threading.Lock()  # `all` runs the cert and parity probes at once

    @functools.cached_property
    def _made_by(self) -> str:
        return made_by()  # once for the read and the save of a run

    def facts(self, der: bytes) -> CertFacts:
        key = fingerprint(der)
        today = int(self.clock() // 86400)
        with self._lock:
            if not self._loaded:
                self._rows = self._read()
                self._loaded = True
            row = self._rows.get(key)
            if row is None:
                facts = read_facts(der)
                self._rows[key] = (*facts[1:], today)
                self._save(today)
                return facts
            if row[-1] != today:  # at most one write a day for a certificate in use
                self._rows[key] = (*row[:-1], today)
                self._save(today)
            return CertFacts(key, *row[:-1])

    def _read(self) -> dict[str, _Row]:
        if self.path is None:
            return {}
        data = private_file.read(self.path, MAX_FILE_BYTES)
        if data is None:
            return {}
        return _decode(data, self._made_by) or {}

    def _save(self, today: int) -> None:
        """Prune, then write the whole store (when it has a path) atomically."""
        recent = {k: r for k, r in self._rows.items() if r[-1] > today - PRUNE_DAYS}
        if len(recent) > MAX_ENTRIES:
            kept = sorted(recent, key=lambda k: recent[k][-1], reverse=True)[:MAX_ENTRIES]
            recent = {k: recent[k] for k in kept}
        self._rows = recent
        if self.path is None:
            return
        data = _encode(self._rows, self._made_by)
        private_file.write(self.path, data)  # if it fails, the next run reads them again


_store = FactsStore()


def store() -> FactsStore:
    """This process's store: in memory, unless keep_on_disk named a file."""
    return _store


def keep_on_disk(path: Path) -> None:
    """Keep this process's facts in `path` too (check_registry: a process a run)."""
    global _store
    _store = FactsStore(path)
