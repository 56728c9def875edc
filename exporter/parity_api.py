"""`/api/parity`: this node described by keyed digests (never contents), for the standby.

Served from the parity probe's last reading, never computed on request. It
carries the node's stored content in bytes from the last storage scan as
well, which the standby needs to tell whether its disk could take the
active's content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from registry_monitor.probes.parity import ParityStatus, description_json
from registry_monitor.probes.reading import Reading

NOT_SERVED = (
    "parity is served only with api_token set: its digests are keyed by the token (docs/pair.md)"
)


def parity_response(readings: Mapping[str, Reading[Any]], token_set: bool) -> JSONResponse:
    """403 without api_token: digests with no shared key could only be plain ones, and a
    plain digest of a secret file is guessed offline."""
    if not token_set:
        return JSONResponse({"error": NOT_SERVED}, 403)
    reading = readings.get("parity")
    status = reading.value if reading is not None else None
    if not isinstance(status, ParityStatus):
        reason = "no parity reading yet" if reading is None else f"parity failed: {reading.error}"
        return JSONResponse({"error": reason}, 503, headers={"Retry-After": "30"})
    doc = description_json(status.local)
    storage = readings.get("storage")
    scan = getattr(storage.value, "scan", None) if storage is not None and storage.ok else None
    doc["storage_blob_bytes"] = getattr(scan, "blob_bytes", None)
    return JSONResponse(doc, headers={"Cache-Control": "no-cache"})
