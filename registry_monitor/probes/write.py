"""write: can the registry still accept a push? (active node)

`GET /v2/` answers 200 on a full disk or in read-only mode; only a write
shows that pushes work. The probe uploads the same small blob every run
(monolithic upload: POST then PUT with the digest) into a dedicated canary
repository, so the store never grows. It never cancels an upload: on 2.8 a
DELETEd upload leaves an `_uploads/` directory nobody purges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients.http import Client, RequestFailed, Response
from registry_monitor.config import Config
from registry_monitor.storage.canary import CANARY_BLOB, CANARY_DIGEST

# The registry's answers to a push are small (an error's JSON at most): read whole, to here.
ANSWER_BYTES = 65536


@dataclass(frozen=True, slots=True)
class WriteStatus:
    """The write canary's push."""

    endpoint: str
    repository: str
    up: bool
    duration_seconds: float
    status_code: int | None
    error: str | None = None


class WriteProbe:
    name = "write"

    def __init__(self, config: Config) -> None:
        self.base = config.backend_url
        self.repository = config.write_canary_repository
        self.client = Client(config.ca_file)

    def __call__(self, deadline: Deadline) -> WriteStatus:
        begin = time.monotonic()

        def done(up: bool, code: int | None, error: str | None = None) -> WriteStatus:
            return WriteStatus(
                "backend", self.repository, up, time.monotonic() - begin, code, error
            )

        start_url = f"{self.base}/v2/{quote(self.repository, safe='/')}/blobs/uploads/"
        try:
            started = self.client.post(start_url, timeout=deadline.io_timeout())
            body = started.read_capped(ANSWER_BYTES, deadline)
            if started.status != 202 or "Location" not in started.headers:
                return done(False, started.status, _refusal("starting an upload", started, body))
            location = urljoin(start_url, started.headers["Location"])
            joiner = "&" if "?" in location else "?"
            put_url = f"{location}{joiner}{urlencode({'digest': CANARY_DIGEST})}"
            finished = self.client.put(
                put_url,
                body=CANARY_BLOB,
                headers={"Content-Type": "application/octet-stream"},
                timeout=deadline.io_timeout(),
            )
            body = finished.read_capped(ANSWER_BYTES, deadline)
        except (RequestFailed, ProbeFailed) as exc:
            return done(False, None, str(exc))
        if finished.status != 201:
            return done(False, finished.status, _refusal("completing the upload", finished, body))
        if finished.headers.get("Docker-Content-Digest", CANARY_DIGEST) != CANARY_DIGEST:
            return done(False, 201, "registry stored the canary under another digest")
        return done(True, 201)


def _refusal(step: str, resp: Response, body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return f"{step} answered HTTP {resp.status}" + (f": {text}" if text else "")
