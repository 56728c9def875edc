"""`/api/inventory`: this node's stored content, from the storage probe's last scan.

Never scans on request. The body is generated from the scan's compact
inventory as it is sent (gzip-compressed on the fly when accepted), so the
exporter never holds the text of a large inventory. The ETag is the sha256 of
the uncompressed form; `If-None-Match` with it answers 304, so an unchanged
inventory costs a few hundred bytes. `Age` is how long ago (on this node's
clock) the content was found, which lets the standby age it without
comparing clocks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response, StreamingResponse

from registry_monitor.probes.reading import Reading
from registry_monitor.storage import inventory_wire
from registry_monitor.storage.inventory_wire import MEDIA_TYPE


def accepts_gzip(accept_encoding: str) -> bool:
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().removeprefix("q=").strip()
            try:
                return not q or float(q) > 0
            except ValueError:
                return False
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses (RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    plain = etag.removeprefix("W/")
    return any(
        tag.strip() == "*" or tag.strip().removeprefix("W/") == plain
        for tag in if_none_match.split(",")
    )


def inventory_response(reading: Reading[Any] | None, headers: Mapping[str, str]) -> Response:
    if reading is None:
        return JSONResponse(
            {"error": "no storage scan has finished yet; the inventory exists after the first"},
            503,
            headers={"Retry-After": "30"},
        )
    inventory = getattr(reading.value, "inventory", None)
    if not reading.ok or inventory is None:
        return JSONResponse(
            {"error": f"the last storage scan failed, no current inventory: {reading.error}"},
            503,
            headers={"Retry-After": "60"},
        )
    try:
        etag = f'W/"{inventory_wire.etag(inventory)}"'  # written after the scan (exporter/wire.py)
    except OSError as exc:
        return JSONResponse(
            {"error": f"cannot write the inventory's wire form: {exc}"},
            503,
            headers={"Retry-After": "60"},
        )
    common = {
        "ETag": etag,
        "Age": str(int(max(0.0, time.time() - inventory.generated_at))),
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding, Authorization",
    }
    if etag_matches(headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=common)
    if accepts_gzip(headers.get("accept-encoding", "")):
        return StreamingResponse(
            inventory_wire.gzip_chunks(inventory),
            media_type=MEDIA_TYPE,
            headers={**common, "Content-Encoding": "gzip"},
        )
    return StreamingResponse(inventory_wire.lines(inventory), media_type=MEDIA_TYPE, headers=common)
