"""Pushes finishing while the storage scan reads `_uploads/`: never a stale upload.

The registry removes a finished upload's directory (RemoveAll: its files, then
the directory) while a scan may be between listing `_uploads/` and reading an
entry's `startedat`. Every push here is seconds old, so any stale count is a
false alarm of the kind check_registry raised against its own canary push.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import requests

from registry_monitor.base import Deadline
from registry_monitor.storage.scan import Scanner
from registry_monitor.storage.walk import Tree
from testbed.images import Pusher
from testbed.registry import Registry

PUSHERS = 3
SCANS = 1000  # at least this many scans ...
IN_FLIGHT = 30  # ... and at least this many that caught an upload in flight
LIMIT_SECONDS = 100  # a bound for a slow machine, never reached on a fast one


class FinishingWhileListed(Tree):
    """A walk whose listing of `_uploads/` is overtaken by the registry finishing every
    upload in it: the exact interleaving the loop below hits now and then."""

    def _listdir(self, path: str) -> list[os.DirEntry[str]]:
        entries = super()._listdir(path)
        if path.endswith("/_uploads"):
            for entry in entries:
                (Path(entry.path) / "startedat").unlink()
                shutil.rmtree(entry.path)
        return entries


def test_an_upload_that_finished_since_the_listing_is_not_counted(registry: Registry) -> None:
    started = requests.post(f"{registry.url}/v2/race/blobs/uploads/", timeout=5)
    assert started.status_code == 202
    scanner = Scanner(registry.data_dir, "n1", "active", stale_upload_seconds=3600)
    scanner.tree = FinishingWhileListed(registry.data_dir)
    snapshot = scanner.scan(Deadline(30))
    assert (snapshot.uploads_active, snapshot.uploads_stale) == (0, 0)
    assert list((registry.v2 / "repositories" / "race" / "_uploads").iterdir()) == []


def push_until(registry: Registry, n: int, stop: threading.Event, failures: list[str]) -> None:
    pusher = Pusher(registry.url)
    i = 0
    try:
        while not stop.is_set():
            pusher.push_blob(f"race/{n}", f"blob {n}-{i}".encode())
            i += 1
    except Exception as exc:  # reported by the test, not lost in the thread
        failures.append(repr(exc))


def test_uploads_finishing_during_scans_are_never_stale(registry: Registry) -> None:
    scanner = Scanner(registry.data_dir, "n1", "active", stale_upload_seconds=3600)

    stop = threading.Event()
    failures: list[str] = []
    threads = [
        threading.Thread(target=push_until, args=(registry, n, stop, failures), daemon=True)
        for n in range(PUSHERS)
    ]
    for thread in threads:
        thread.start()
    scans = in_flight = 0
    stale: list[tuple[int, int]] = []
    give_up = time.monotonic() + LIMIT_SECONDS
    try:
        while (scans < SCANS or in_flight < IN_FLIGHT) and time.monotonic() < give_up:
            snapshot = scanner.scan(Deadline(30))
            scans += 1
            in_flight += snapshot.uploads_active > 0
            if snapshot.uploads_stale:
                stale.append((scans, snapshot.uploads_stale))
            assert not failures, failures
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert stale == [], f"stale uploads (scan, count) in {scans} scans"
    assert in_flight >= IN_FLIGHT, f"only {in_flight} of {scans} scans saw an upload in flight"
