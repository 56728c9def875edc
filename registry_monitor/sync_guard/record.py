"""What the sync guard keeps in state_dir: its refusals, and an operator's one-run exemption.

`sync-guard.json` counts refusals by reason and keeps the last refusal and the
last exemption used; the exporter's sync probe reads it (the refusal metrics,
the sync verdict). The guard runs as root in the sync unit and the exporter as
its own user, so the file is written readable by all (it holds no secret).

`sync-guard-allow-once.json` is written by `check_registry sync-guard
--allow-once REASON` and removed by the next guard run, which it lets through
whatever it finds; only one written by the user the guard runs as (root, in
the unit): state_dir is the exporter's, and the exporter is not the one to wave
a sync through. An exemption older than ALLOW_ONCE_SECONDS is removed
unused: one written and forgotten while the timer was stopped must not wave
through a run weeks later.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from registry_monitor.files import statefile
from registry_monitor.times import when

STATE_FILE = "sync-guard.json"
ALLOW_ONCE_FILE = "sync-guard-allow-once.json"
ALLOW_ONCE_SECONDS = 3600.0  # six runs of the 10-minute timer
READABLE = 0o644


class Exemption(NamedTuple):  # not a dataclass: a tenth of the cost to define
    reason: str  # the operator's words
    by: str  # who wrote it (the login name, or the user)
    at: float  # unix time written

    def describe(self) -> str:
        return f"{self.reason!r} (by {self.by} at {when(self.at)})"


class GuardHistory(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """The guard's record as the exporter reads it."""

    refusals: dict[str, int]  # reason -> refusals since the file was started
    last_refusal_at: float | None
    last_refusal: str | None  # its summary: every reason with its detail
    last_exemption: str | None  # the last exemption used, described
    last_exemption_at: float | None
    note: str | None = None  # the file could not be read


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value[:2000] if isinstance(value, str) else None


def load_history(state_dir: Path) -> GuardHistory:
    raw, note = statefile.load(state_dir / STATE_FILE)
    counts = raw.get("refusals")
    refusals = {
        str(k): v
        for k, v in (counts.items() if isinstance(counts, dict) else ())
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }
    last = _mapping(raw.get("last_refusal"))
    used = _mapping(raw.get("last_exemption"))
    return GuardHistory(
        refusals=refusals,
        last_refusal_at=_time(last.get("at")),
        last_refusal=_text(last.get("summary")),
        last_exemption=_text(used.get("described")),
        last_exemption_at=_time(used.get("at")),
        note=note,
    )


def record_run(
    state_dir: Path, refused: tuple[str, ...], summary: str, exemption: Exemption | None, now: float
) -> str | None:
    """Count a refused run by each of its reasons, or keep the exemption that let one
    through; a note when the file could not be written."""
    path = state_dir / STATE_FILE
    raw, _ = statefile.load(path)  # an unusable file starts afresh: the save replaces it
    counts = _mapping(raw.get("refusals"))
    if refused and exemption is None:
        for reason in refused:
            before = counts.get(reason)
            counts[reason] = (before if isinstance(before, int) else 0) + 1
        raw["last_refusal"] = {"at": now, "reasons": list(refused), "summary": summary}
    if exemption is not None:
        raw["last_exemption"] = {
            "at": now,
            "described": exemption.describe(),
            "overrode": list(refused),
        }
    raw["refusals"] = counts
    return statefile.save(path, raw, mode=READABLE)


def write_exemption(state_dir: Path, reason: str, by: str, now: float) -> str | None:
    """Let the next guard run through; a note when it could not be written."""
    data = {"reason": reason, "by": by, "at": now}
    return statefile.save(state_dir / ALLOW_ONCE_FILE, data, mode=READABLE)


def take_exemption(state_dir: Path, now: float) -> tuple[Exemption | None, str | None]:
    """The exemption waiting for this run, removed so that it serves once; (None, a note)
    when there was one that cannot be used."""
    path = state_dir / ALLOW_ONCE_FILE
    raw, note = statefile.load(path)
    if not raw and note is None:
        return None, None
    try:
        owner = path.stat().st_uid
    except OSError:
        owner = -1
    if owner != os.geteuid():  # the exporter's user may write state_dir: not its call
        note = note or f"owned by uid {owner}, not by the user the guard runs as"
    try:
        path.unlink()
    except FileNotFoundError:
        return None, None  # another run took it
    except OSError as exc:
        return None, f"exemption {path} not used: it cannot be removed ({exc.strerror or exc})"
    reason, by, at = raw.get("reason"), raw.get("by"), _time(raw.get("at"))
    if note is not None or not isinstance(reason, str) or not isinstance(by, str) or at is None:
        return None, f"exemption {path} not used and removed: {note or 'not one this wrote'}"
    if now - at > ALLOW_ONCE_SECONDS:
        return None, (
            f"exemption {reason!r} by {by} written at {when(at)} not used and removed: "
            f"older than {ALLOW_ONCE_SECONDS / 60:.0f} minutes"
        )
    return Exemption(reason, by, at), None


def invoking_user() -> str:
    """Who asked for the exemption: the login behind sudo when there is one."""
    for name in ("SUDO_USER", "LOGNAME", "USER"):
        if value := os.environ.get(name):
            return value
    return str(os.getuid())
