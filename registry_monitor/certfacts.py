"""What the cert probe reads from a certificate, remembered by the certificate's own bytes.

The facts (subject and issuer as RFC 4514 strings, serial, notBefore,
notAfter, subjectAltName DNS names) are a pure function of a certificate's
DER bytes, so a store keyed by their sha256 (the fingerprint the probe
reports) is exact: a certificate that differs by one byte is another key,
and no clock, copy or renewal can make the store serve a stale fact.
Reading them takes cryptography's x509 parser, some 40 ms of imports; with
the store, a steady run of the probe needs none.

Every process keeps what it read in memory (the exporter needs no more).
check_registry, a new process each minute, also keeps the facts in a file
its face names (`keep_on_disk`): marshal of plain values, written whole and
atomically (directory 0700, file 0600), trusted only when this user owns it
and nobody else may write it; anything wrong with it (absent, foreign,
garbled, too big, unwritable) means reading the certificate again. Entries
not used for PRUNE_DAYS are dropped, and at most MAX_ENTRIES are kept (the
most recently used), so the file cannot grow without bound.
"""

from __future__ import annotations

import functools
import marshal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from registry_monitor import private_file, provenance

FORMAT = 1
MAX_ENTRIES = 64
PRUNE_DAYS = 30
MAX_FILE_BYTES = 1 << 20


class CertFacts(NamedTuple):  # not a dataclass, which costs ten times as much to define
    fingerprint: str  # sha256 of the DER bytes, hex: the key
    subject: str  # RFC 4514
    issuer: str
    serial: str  # hex
    not_before: float  # unix time
    not_after: float
    names: tuple[str, ...]  # subjectAltName DNS names


def fingerprint(der: bytes) -> str:
    import hashlib  # here: only a probe that holds a certificate needs it

    return hashlib.sha256(der).hexdigest()


def read_facts(der: bytes) -> CertFacts:
    """The facts, parsed from der by cryptography (imported here: only on a miss)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(str(n) for n in san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertFacts(
        fingerprint(der),
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        format(cert.serial_number, "x"),
        cert.not_valid_before_utc.timestamp(),
        cert.not_valid_after_utc.timestamp(),
        names,
    )


def made_by() -> str:
    """What the facts on disk were read by, as a digest: this module (read_facts) and
    cryptography, whose version may word a name differently; a file made by others is
    read as empty."""
    import hashlib

    made = (FORMAT, *provenance.identity([__file__], [("cryptography", "cryptography")]))
    return hashlib.sha256(repr(made).encode()).hexdigest()


# On disk: (made_by(), {fingerprint: (subject, issuer, serial, not_before, not_after, names,
# day last used)}), days counted from the epoch.
_Row = tuple[str, str, str, float, float, tuple[str, ...], int]


def _row(value: object) -> _Row | None:
    """value as a row, if it is one exactly; else None."""
    if not (isinstance(value, tuple) and len(value) == 7):
        return None
    subject, issuer, serial, not_before, not_after, names, used = value
    if not all(isinstance(s, str) for s in (subject, issuer, serial)):
        return None
    if not all(isinstance(t, float) for t in (not_before, not_after)):
        return None
    if not (isinstance(names, tuple) and all(isinstance(n, str) for n in names)):
        return None
    if not isinstance(used, int) or isinstance(used, bool):
        return None
    return subject, issuer, serial, not_before, not_after, names, used


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
            if row[6] != today:  # at most one write a day for a certificate in use
                self._rows[key] = (*row[:6], today)
                self._save(today)
            return CertFacts(key, *row[:6])

    def _read(self) -> dict[str, _Row]:
        if self.path is None:
            return {}
        data = private_file.read(self.path, MAX_FILE_BYTES)
        if data is None:
            return {}
        try:
            doc = marshal.loads(data)  # noqa: S302 - ours, private_file checked who wrote it
        except Exception:  # garbled or from another version: as if there were none
            return {}
        if not (isinstance(doc, tuple) and len(doc) == 2 and doc[0] == self._made_by):
            return {}
        if not isinstance(doc[1], dict):
            return {}
        rows = {}
        for key, value in doc[1].items():
            row = _row(value)
            if isinstance(key, str) and len(key) == 64 and row is not None:
                rows[key] = row
        return rows

    def _save(self, today: int) -> None:
        """Prune, then write the whole store (when it has a path) atomically."""
        recent = {k: r for k, r in self._rows.items() if r[6] > today - PRUNE_DAYS}
        if len(recent) > MAX_ENTRIES:
            kept = sorted(recent, key=lambda k: recent[k][6], reverse=True)[:MAX_ENTRIES]
            recent = {k: recent[k] for k in kept}
        self._rows = recent
        if self.path is None:
            return
        data = marshal.dumps((self._made_by, self._rows))
        private_file.write(self.path, data)  # if it fails, the next run reads them again


_store = FactsStore()


def store() -> FactsStore:
    """This process's store: in memory, unless keep_on_disk named a file."""
    return _store


def keep_on_disk(path: Path) -> None:
    """Keep this process's facts in `path` too (check_registry: a process a run)."""
    global _store
    _store = FactsStore(path)
