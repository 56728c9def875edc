"""What this standby last learned from the active, kept in state_dir for when the active is gone.

The failover answer is needed most when the active cannot be asked any more:
its host is down, and with it the exporter that served the inventory and the
parity description. So the standby keeps, after each answer, what that
answer told it: the comparison of the active's inventory with this node's
content (the tags and digests it lacked, when the oldest of them was pushed),
and the active's parity description. When the active does not answer, the
standby and parity probes judge from what is kept, and say since when.

Two small JSON files, written atomically by registry_monitor/files/statefile.py
(one per probe: the two probes run in their own threads, and a file of its
own each means neither ever rewrites what the other wrote). Every time is
this node's clock. A kept inventory is rewritten when what it says changed,
and otherwise at most every KEEP_EVERY seconds: "has not answered since" read
back from the file by check_registry is at most that much early, while the
exporter, which keeps the newest in memory too, is exact.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from registry_monitor.base import ProbeFailed
from registry_monitor.files import statefile

INVENTORY_FILE = "active-inventory-last-known.json"
PARITY_FILE = "active-parity-last-known.json"
FORMAT = 1
KEEP_EVERY = 30.0
LACKING = 50  # tags lacked named in the file (with their digests); the count is exact


class Unreachable(ProbeFailed):
    """The active's exporter did not answer at all (refused, reset, timed out): the one
    failure judged from what it said last. An answer that is refused (401, garbage) is
    not silence: it fails as ever."""


@dataclass(frozen=True, slots=True)
class Lacking:
    """A tag of the active this standby lacked: missing here, or pointing elsewhere."""

    name: str  # repository:tag
    digest: str  # the manifest the active's tag pointed to (sha256:<hex>); "" if unknown
    pushed_at: float  # this node's clock
    why: str  # "missing" or "points to another manifest"


@dataclass(frozen=True, slots=True)
class KnownInventory:
    active_node: str
    answered_at: float  # the active's last answer (200 or 304)
    known_at: float  # the instant the active's content was as compared (its scan)
    missing_tags: int
    mismatched_tags: int
    missing_repositories: int
    missing_blobs: int
    divergent_tags: int
    divergent_repositories: int
    oldest_missing_push: float | None
    lacking: tuple[Lacking, ...]

    @property
    def lost_tags(self) -> int:
        return self.missing_tags + self.mismatched_tags

    def same_content(self, other: KnownInventory | None) -> bool:
        """Equal but for the time of the answer."""
        return other is not None and asdict(self) | {"answered_at": 0} == asdict(other) | {
            "answered_at": 0
        }


def _number(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _count(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a count")
    return value


def parse_inventory(doc: dict[str, Any]) -> KnownInventory:
    """A kept inventory, checked (ValueError names what is wrong)."""
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a format {FORMAT} file")
    node = doc.get("active_node")
    if not isinstance(node, str):
        raise ValueError("active_node is not a string")
    oldest = doc.get("oldest_missing_push")
    lacking = []
    for raw in doc.get("lacking") or ():
        if not isinstance(raw, dict):
            raise ValueError("a lacking tag is not an object")
        name, digest, why = raw.get("name"), raw.get("digest"), raw.get("why")
        if not isinstance(name, str) or not isinstance(digest, str) or not isinstance(why, str):
            raise ValueError("a lacking tag without name, digest or why")
        lacking.append(Lacking(name, digest, _number(raw, "pushed_at"), why))
    return KnownInventory(
        active_node=node,
        answered_at=_number(doc, "answered_at"),
        known_at=_number(doc, "known_at"),
        missing_tags=_count(doc, "missing_tags"),
        mismatched_tags=_count(doc, "mismatched_tags"),
        missing_repositories=_count(doc, "missing_repositories"),
        missing_blobs=_count(doc, "missing_blobs"),
        divergent_tags=_count(doc, "divergent_tags"),
        divergent_repositories=_count(doc, "divergent_repositories"),
        oldest_missing_push=None if oldest is None else _number(doc, "oldest_missing_push"),
        lacking=tuple(lacking),
    )


class InventoryMemory:
    """The standby probe's: the comparison at the active's last answer."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / INVENTORY_FILE
        self.latest: KnownInventory | None = None  # newest, kept or not
        self.saved_at = 0.0  # the answer time of the newest written to the file
        self.saved: KnownInventory | None = None

    def keep(self, known: KnownInventory) -> str | None:
        """Remember an answer; written when it says something new, or KEEP_EVERY seconds
        after the last write. A note when the file could not be written."""
        self.latest = known
        if known.same_content(self.saved) and known.answered_at - self.saved_at < KEEP_EVERY:
            return None
        doc = {"format": FORMAT, **asdict(known)}
        doc["lacking"] = [asdict(t) for t in known.lacking[:LACKING]]
        note = statefile.save(self.path, doc)
        if note is None:
            self.saved, self.saved_at = known, known.answered_at
        return note

    def recall(self) -> tuple[KnownInventory | None, str | None]:
        """The newest known: this process's, else the file's; a note when the file is bad."""
        if self.latest is not None:
            return self.latest, None
        doc, note = statefile.load(self.path)
        if not doc:
            return None, note
        try:
            return parse_inventory(doc), None
        except ValueError as exc:
            return None, f"kept inventory {self.path} is not usable ({exc})"


class ParityMemory:
    """The parity probe's: the active's last description, as it came (a JSON object)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / PARITY_FILE
        self.latest: tuple[dict[str, Any], int | None, float] | None = None
        self.saved: tuple[dict[str, Any], int | None] | None = None

    def keep(self, description: dict[str, Any], blob_bytes: int | None) -> str | None:
        now = time.time()
        self.latest = (description, blob_bytes, now)
        if self.saved == (description, blob_bytes):
            return None  # the description's own generated_at changes it when it changes
        doc = {
            "format": FORMAT,
            "description": description,
            "storage_blob_bytes": blob_bytes,
            "fetched_at": now,
        }
        note = statefile.save(self.path, doc)
        if note is None:
            self.saved = (description, blob_bytes)
        return note

    def recall(self) -> tuple[dict[str, Any], int | None, float] | None:
        """(the description, the active's blob bytes, when it was fetched) or None."""
        if self.latest is not None:
            return self.latest
        doc, _ = statefile.load(self.path)
        description, size, at = (
            doc.get("description"),
            doc.get("storage_blob_bytes"),
            doc.get("fetched_at"),
        )
        if doc.get("format") != FORMAT or not isinstance(description, dict):
            return None
        if not isinstance(at, int | float):
            return None
        return description, size if isinstance(size, int) and size >= 0 else None, float(at)
