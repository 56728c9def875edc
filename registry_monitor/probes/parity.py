"""parity: is this node set up as the active is? (described on both roles, compared on the standby)

A standby can hold every byte and still fail as the active because its
configuration drifted. Each node describes itself by digests only, never
contents: of each file in `parity_files` (the registry's config.yml, the
nginx site, the htpasswd file), of the certificate nginx serves and of
`cert_file`; and by the registry's version and the exporter's. The active's
description is served at `/api/parity`; the standby fetches it and compares
item by item.

Every digest is keyed: HMAC-SHA256 with a key derived from `api_token`, the
secret both nodes share. A plain sha256 of an htpasswd file is a password
guessed offline (a `{SHA}` entry gives its word to a word list); a keyed one
tells nothing to whoever lacks the token. Without a token the digests are
keyed by a random key of this process, `/api/parity` is not served, and the
standby says there is nothing it can compare.

Differences the operators intend are declared, not ignored wholesale:
`parity_ignore_lines` names, per file, the regular expressions of lines left
out before hashing (a `node`-specific line, a `server_name`), on both nodes
alike, so everything else in that file still has to match.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_monitor import __version__
from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients import bounded_json
from registry_monitor.clients.http import Client, RequestFailed
from registry_monitor.config import Config
from registry_monitor.files import regular_file
from registry_monitor.files.active_memory import ParityMemory, Unreachable
from registry_monitor.tls.reader import CertReader

FORMAT = 2  # 2: digests keyed (HMAC-SHA256); 1 sent plain sha256
MAX_FILE_BYTES = 16 * 1024 * 1024
# A file this user may not read (puppet's htpasswd.registry is www-data's, 0440): not a
# fault of the file, so the item is left uncompared and said so, never a warning.
UNREADABLE = "not readable by "
GRANT = (
    "grant read with a group, e.g. SupplementaryGroups=www-data in a drop-in for "
    "registry-exporter.service (docs/configuration.md), or leave it out of parity_files"
)
# The active's description: a few items per parity_files entry fit in far less.
MAX_DESCRIPTION_BYTES = 1024 * 1024
MAX_DESCRIPTION_VALUES = 200_000
# Items compared (and parity_match series) at most; the rest of a description is counted.
MAX_ITEMS = 64
MAX_TEXT = 300  # characters kept of each string of the peer's (names, digests, errors)
KEY_CONTEXT = b"registry-monitor parity v2"
NO_KEY_HERE = "no api_token set: parity compares digests keyed by it, set the same on both"
NO_PARITY_THERE = "serves no parity without api_token: set the same api_token on both"


@dataclass(frozen=True, slots=True)
class ParityItem:
    item: str  # registry_config, nginx_site, htpasswd, cert_served, cert_file, ...
    kind: str  # "file" (sha256 of what is left), "cert" (sha256 fingerprint), "version"
    digest: str | None  # never the content itself
    error: str | None = None
    ignored_lines: int = 0  # lines left out by parity_ignore_lines


@dataclass(frozen=True, slots=True)
class NodeDescription:
    node: str
    role: str
    generated_at: float
    items: tuple[ParityItem, ...]
    more_items: int = 0  # items past MAX_ITEMS in what was received: counted, not kept

    def item(self, name: str) -> ParityItem | None:
        return next((i for i in self.items if i.item == name), None)


@dataclass(frozen=True, slots=True)
class ParityMatch:
    item: str
    match: bool
    reason: str | None = None  # why not, for people
    compared: bool = True  # False: a side may not read the file; neither match nor mismatch


@dataclass(frozen=True, slots=True)
class ParityStatus:
    local: NodeDescription
    active: NodeDescription | None = None  # on the standby: the active's description
    matches: tuple[ParityMatch, ...] = ()
    active_blob_bytes: int | None = None  # the active's stored content, from its last scan
    uncompared: int = 0  # items past MAX_ITEMS, neither compared nor exported
    shared: bool = True  # digests keyed by api_token; False: by a key of this process alone

    @property
    def mismatches(self) -> tuple[ParityMatch, ...]:
        return tuple(m for m in self.matches if not m.match and m.compared)


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def unreadable(item: ParityItem) -> bool:
    """Whether the item is a file its node's exporter may not read (see UNREADABLE)."""
    return item.error is not None and item.error.startswith(UNREADABLE)


def parity_key(token: str | None) -> tuple[bytes, bool]:
    """(the key digests are keyed with, whether the standby can share it): derived from
    api_token, or random when there is none."""
    if token is None:
        return os.urandom(32), False
    return hmac.new(token.encode(), KEY_CONTEXT, hashlib.sha256).digest(), True


def keyed(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def file_digest(path: Path, ignore: tuple[re.Pattern[str], ...], key: bytes) -> ParityItem:
    """The keyed digest of the file's lines that no ignore pattern matches (the whole bytes
    if none)."""
    try:
        data = regular_file.read_bytes(path, MAX_FILE_BYTES)
    except PermissionError:
        return ParityItem("", "file", None, f"{UNREADABLE}{_user()}: {path}; {GRANT}")
    except OSError as exc:
        return ParityItem("", "file", None, f"cannot read {path}: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return ParityItem("", "file", None, f"{path} is larger than {MAX_FILE_BYTES} bytes")
    if not ignore:
        return ParityItem("", "file", keyed(key, data))
    kept: list[bytes] = []
    dropped = 0
    for line in data.splitlines(keepends=True):
        text = line.decode("utf-8", "replace")
        if any(p.search(text) for p in ignore):
            dropped += 1
        else:
            kept.append(line)
    return ParityItem("", "file", keyed(key, b"".join(kept)), None, dropped)


class RegistryVersion:
    """`<registry binary> --version`, started at once and read when wanted: the binary
    takes tens of milliseconds to start, which the rest of the description overlaps."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.process: subprocess.Popen[str] | None = None
        self.failure: OSError | None = None
        try:
            self.process = subprocess.Popen(
                [binary, "--version"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # a group of its own: a time-out kills all of it
            )
        except OSError as exc:
            self.failure = exc

    def item(self, deadline: Deadline) -> ParityItem:
        binary = self.binary
        if self.process is None:
            return ParityItem(
                "registry_version", "version", None, f"{binary} --version: {self.failure}"
            )
        try:
            stdout, _ = self.process.communicate(timeout=deadline.io_timeout(10))
        except subprocess.TimeoutExpired as exc:
            # a wrapper script's children hold the pipes open too: kill them all, then
            # only reap (reading the pipes to their end could wait on a child still there)
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
            return ParityItem("registry_version", "version", None, f"{binary} --version: {exc}")
        if self.process.returncode != 0:
            return ParityItem(
                "registry_version",
                "version",
                None,
                f"{binary} --version exited {self.process.returncode}",
            )
        # "<argv[0]> github.com/docker/distribution 2.8.2+ds1": the path is not the version
        first, _, rest = stdout.strip().partition(" ")
        version = (
            rest
            if first == binary or first.endswith("/" + Path(binary).name)
            else first + " " + rest
        )
        return ParityItem("registry_version", "version", version.strip()[:200])


def compare(mine: NodeDescription, theirs: NodeDescription) -> tuple[ParityMatch, ...]:
    names = [i.item for i in theirs.items] + [
        i.item for i in mine.items if theirs.item(i.item) is None
    ]
    out = []
    for name in names:
        a, b = mine.item(name), theirs.item(name)
        if b is None:
            out.append(ParityMatch(name, False, f"not described by the active {theirs.node}"))
        elif a is None:
            out.append(ParityMatch(name, False, "not described here (parity_files differ?)"))
        elif unreadable(a) or unreadable(b):
            where = f"here: {a.error}" if unreadable(a) else f"on the active: {b.error}"
            out.append(ParityMatch(name, False, f"not compared, {where}", compared=False))
        elif a.error or b.error:
            where = f"here: {a.error}" if a.error else f"on the active: {b.error}"
            out.append(ParityMatch(name, False, f"cannot compare, {where}"))
        elif a.digest != b.digest:
            if a.kind == "version":
                reason = f"{a.digest!r} here, {b.digest!r} on the active"
            else:
                reason = (
                    f"digest {(a.digest or '')[:12]} here, {(b.digest or '')[:12]} on the active"
                )
            out.append(ParityMatch(name, False, reason))
        else:
            out.append(ParityMatch(name, True))
    return tuple(out)


def description_json(d: NodeDescription) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "node": d.node,
        "role": d.role,
        "generated_at": d.generated_at,
        "items": [
            {
                "item": i.item,
                "kind": i.kind,
                "digest": i.digest,
                "error": i.error,
                "ignored_lines": i.ignored_lines,
            }
            for i in d.items
        ],
    }


def parse_description(doc: object) -> NodeDescription:
    """The active's /api/parity answer, checked strictly (ValueError names what is wrong);
    items past MAX_ITEMS are counted, not kept."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a format {FORMAT} parity description")
    received = doc.get("items") or []
    if not isinstance(received, list):
        raise ValueError("items is not a list")
    items = []
    for raw in received[:MAX_ITEMS]:
        if not isinstance(raw, dict) or not isinstance(raw.get("item"), str):
            raise ValueError("an item without a name")
        name = raw["item"][:MAX_TEXT]  # what comes from the peer is cut to a line's length
        digest, error, kind = raw.get("digest"), raw.get("error"), raw.get("kind", "")
        if not isinstance(digest, str | None) or not isinstance(error, str | None):
            raise ValueError(f"item {name}: digest and error must be strings or null")
        ignored = raw.get("ignored_lines") or 0
        if not isinstance(ignored, int) or not isinstance(kind, str):
            raise ValueError(f"item {name}: kind must be a string, ignored_lines an integer")
        items.append(
            ParityItem(
                name,
                kind[:MAX_TEXT],
                None if digest is None else digest[:MAX_TEXT],
                None if error is None else error[:MAX_TEXT],
                ignored,
            )
        )
    node, role, at = doc.get("node"), doc.get("role"), doc.get("generated_at")
    if not isinstance(node, str) or not isinstance(role, str) or not isinstance(at, int | float):
        raise ValueError("node, role and generated_at are required")
    node, role = node[:MAX_TEXT], role[:MAX_TEXT]
    more = len(received) - len(items)
    return NodeDescription(node, role, float(at), tuple(items), more)


class ParityProbe:
    name = "parity"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.files = dict(config.parity_files)
        self.ignore = {
            name: tuple(re.compile(p) for p in patterns)
            for name, patterns in config.parity_ignore_lines.items()
        }
        self.cert = CertReader(config)
        self.url = (
            f"{config.active_exporter_url}/api/parity"
            if config.role == "standby" and config.active_exporter_url
            else None
        )
        self.client = Client(config.ca_file)
        self.key, self.shared = parity_key(config.api_token)
        self.memory = ParityMemory(config.state_dir)  # the active's last description

    def describe(self, deadline: Deadline) -> NodeDescription:
        version = RegistryVersion(self.config.registry_binary)  # runs while the rest is read
        items: list[ParityItem] = []
        for name, path in self.files.items():
            found = file_digest(path, self.ignore.get(name, ()), self.key)
            items.append(ParityItem(name, "file", found.digest, found.error, found.ignored_lines))
        # one dict of chains, as the cert probe keeps it: a file that is the chain nginx
        # served and OpenSSL verified is taken as read, without cryptography
        chains: dict[str, list[bytes]] = {}
        if self.cert.check_served:
            served = self.cert.served(deadline, chains)
            items.append(
                ParityItem(
                    "cert_served",
                    "cert",
                    self._keyed(served.fingerprint_sha256),
                    served.error if not served.fetched else None,
                )
            )
        if self.config.cert_file is not None:
            on_disk = self.cert.on_disk(self.config.cert_file, chains)
            items.append(
                ParityItem(
                    "cert_file",
                    "cert",
                    self._keyed(on_disk.fingerprint_sha256),
                    on_disk.error if not on_disk.fetched else None,
                )
            )
        items.append(version.item(deadline))
        items.append(ParityItem("exporter_version", "version", __version__))
        return NodeDescription(self.config.node, self.config.role, time.time(), tuple(items))

    def _keyed(self, fingerprint: str | None) -> str | None:
        return None if fingerprint is None else keyed(self.key, fingerprint.encode())

    def fetch_active(self, deadline: Deadline) -> tuple[NodeDescription, int | None]:
        assert self.url is not None and self.config.api_token is not None
        headers = {
            "Accept": "application/json",
            "Authorization": f"Bearer {self.config.api_token}",
        }
        try:
            resp = self.client.get(self.url, headers=headers, timeout=deadline.io_timeout(10))
            body = resp.read_capped(MAX_DESCRIPTION_BYTES, deadline)
        except RequestFailed as exc:
            raise Unreachable(f"active exporter {self.url} unreachable: {exc}") from None
        except ProbeFailed as exc:
            raise ProbeFailed(f"active's parity description rejected: {exc}") from None
        if resp.status == 401:
            raise ProbeFailed(
                f"active exporter {self.url} refused the request (401): "
                "set the same api_token on both"
            )
        if resp.status == 403:
            raise ProbeFailed(f"active exporter {self.url} {NO_PARITY_THERE}")
        if resp.status != 200:
            raise ProbeFailed(f"active exporter {self.url} answered HTTP {resp.status}")
        try:
            doc = bounded_json.loads(
                body, max_bytes=MAX_DESCRIPTION_BYTES, max_values=MAX_DESCRIPTION_VALUES
            )
            described = parse_description(doc)
        except ValueError as exc:  # JsonRefused too
            raise ProbeFailed(f"active's parity description rejected: {exc}") from None
        assert isinstance(doc, dict)  # parse_description holds it to an object
        size = doc.get("storage_blob_bytes")
        return described, size if isinstance(size, int) and size >= 0 else None

    def __call__(self, deadline: Deadline) -> ParityStatus:
        local = self.describe(deadline)
        alone = ParityStatus(local, shared=self.shared)
        if self.config.role != "standby":
            return alone
        if self.url is None:
            raise ProbeFailed(
                "active_exporter_url is not set: nothing to compare with", partial=alone
            )
        if not self.shared:
            raise ProbeFailed(NO_KEY_HERE, partial=alone)
        try:
            active, blob_bytes = self.fetch_active(deadline)
        except Unreachable as exc:  # judged against the active's last description kept
            raise ProbeFailed(str(exc), partial=self.recalled(local, alone)) from None
        except ProbeFailed as exc:
            raise ProbeFailed(str(exc), partial=alone) from None
        if active.role != "active":
            raise ProbeFailed(
                f"{self.url} is node {active.node} with role {active.role}, not the active",
                partial=alone,
            )
        self.memory.keep(description_json(active), blob_bytes)
        return self.judged(local, active, blob_bytes)

    def judged(
        self, local: NodeDescription, active: NodeDescription, blob_bytes: int | None
    ) -> ParityStatus:
        matches = compare(local, active)
        uncompared = active.more_items + max(0, len(matches) - MAX_ITEMS)
        return ParityStatus(
            local, active, matches[:MAX_ITEMS], blob_bytes, uncompared, shared=self.shared
        )

    def recalled(self, local: NodeDescription, alone: ParityStatus) -> ParityStatus:
        kept = self.memory.recall()
        try:
            active = parse_description(kept[0]) if kept is not None else None
        except ValueError:
            active = None
        if kept is None or active is None:
            return alone
        return self.judged(local, active, kept[1])
