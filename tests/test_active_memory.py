"""What the standby keeps of the active's answers: written when it changes (or every
KEEP_EVERY seconds), read back by another process, and a bad file refused with a reason."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from registry_monitor.files.active_memory import (
    INVENTORY_FILE,
    KEEP_EVERY,
    PARITY_FILE,
    InventoryMemory,
    KnownInventory,
    Lacking,
    ParityMemory,
)

KNOWN = KnownInventory(
    active_node="registry-a",
    answered_at=1_790_000_100.5,
    known_at=1_790_000_090.25,
    missing_tags=1,
    mismatched_tags=0,
    missing_repositories=1,
    missing_blobs=3,
    divergent_tags=0,
    divergent_repositories=0,
    oldest_missing_push=1_790_000_050.0,
    lacking=(Lacking("toolforge-demo:v1", "sha256:" + "ab" * 32, 1_790_000_050.0, "missing"),),
)


def test_kept_answer_is_read_back_by_another_process(tmp_path: Path) -> None:
    assert InventoryMemory(tmp_path).keep(KNOWN) is None
    assert InventoryMemory(tmp_path).recall() == (KNOWN, None)  # a new process: the file


def test_the_same_answer_is_written_again_only_after_keep_every(tmp_path: Path) -> None:
    memory = InventoryMemory(tmp_path)
    memory.keep(KNOWN)
    later = replace(KNOWN, answered_at=KNOWN.answered_at + KEEP_EVERY - 1)
    memory.keep(later)
    assert memory.recall()[0] == later  # this process knows the newest
    assert InventoryMemory(tmp_path).recall()[0] == KNOWN  # the file: not rewritten yet
    latest = replace(KNOWN, answered_at=KNOWN.answered_at + KEEP_EVERY)
    memory.keep(latest)
    assert InventoryMemory(tmp_path).recall()[0] == latest
    changed = replace(latest, answered_at=latest.answered_at + 1, missing_tags=2)
    memory.keep(changed)  # what it says changed: written at once
    assert InventoryMemory(tmp_path).recall()[0] == changed


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[]", "not a JSON object"),
        ('{"format": 2}', "not a format 1 file"),
        ('{"format": 1, "active_node": 7}', "active_node is not a string"),
        (
            '{"format": 1, "active_node": "a", "answered_at": "soon"}',
            "answered_at is not a number",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_reason(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / INVENTORY_FILE
    path.write_text(content)
    known, note = InventoryMemory(tmp_path).recall()
    assert known is None
    assert note is not None and str(path) in note and why in note


def test_parity_description_kept_and_read_back(tmp_path: Path) -> None:
    description = {"format": 1, "node": "registry-a", "role": "active", "generated_at": 1.0}
    assert ParityMemory(tmp_path).keep(description, 1234) is None
    kept = ParityMemory(tmp_path).recall()
    assert kept is not None and kept[:2] == (description, 1234)
    (tmp_path / PARITY_FILE).write_text(json.dumps({"format": 1, "description": "x"}))
    assert ParityMemory(tmp_path).recall() is None
