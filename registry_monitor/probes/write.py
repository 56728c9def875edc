"""write: can the registry still accept a push? (active node)

`GET /v2/` answers 200 on a full disk or in read-only mode; only a write
shows that pushes work. The probe uploads the same small blob every run
(monolithic upload: POST then PUT with the digest) into a dedicated canary
repository, so the store never grows. It never cancels an upload: on 2.8 a
DELETEd upload leaves an `_uploads/` directory nobody purges.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin

import requests

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.http import describe_error, make_session

# Fixed content: the same digest every run, and recognisable on disk.
CANARY_BLOB = b"registry-monitor write canary: a fixed blob, uploaded again and again\n"
CANARY_DIGEST = "sha256:" + hashlib.sha256(CANARY_BLOB).hexdigest()


@dataclass(frozen=True, slots=True)
class WriteStatus:
    endpoint: str
    repository: str
    up: bool
    duration_seconds: float
    status_code: int | None
    error: str | None = None

    def summary(self) -> str:
        if self.up:
            return f"blob push to {self.repository} OK in {1000 * self.duration_seconds:.0f} ms"
        return f"blob push to {self.repository} FAILED: {self.error}"


class WriteProbe:
    name = "write"

    def __init__(self, config: Config) -> None:
        self.base = config.backend_url
        self.repository = config.write_canary_repository
        self.session = make_session(config.ca_file)

    def __call__(self, deadline: Deadline) -> WriteStatus:
        begin = time.monotonic()

        def done(up: bool, code: int | None, error: str | None = None) -> WriteStatus:
            return WriteStatus(
                "backend", self.repository, up, time.monotonic() - begin, code, error
            )

        start_url = f"{self.base}/v2/{quote(self.repository, safe='/')}/blobs/uploads/"
        try:
            started = self.session.post(
                start_url, timeout=deadline.io_timeout(), allow_redirects=False
            )
            started.close()
            if started.status_code != 202 or "Location" not in started.headers:
                return done(False, started.status_code, _refusal("starting an upload", started))
            location = urljoin(start_url, started.headers["Location"])
            joiner = "&" if "?" in location else "?"
            put_url = f"{location}{joiner}{urlencode({'digest': CANARY_DIGEST})}"
            finished = self.session.put(
                put_url,
                data=CANARY_BLOB,
                headers={"Content-Type": "application/octet-stream"},
                timeout=deadline.io_timeout(),
                allow_redirects=False,
            )
            finished.close()
        except requests.RequestException as exc:
            return done(False, None, describe_error(exc))
        if finished.status_code != 201:
            return done(False, finished.status_code, _refusal("completing the upload", finished))
        if finished.headers.get("Docker-Content-Digest", CANARY_DIGEST) != CANARY_DIGEST:
            return done(False, 201, "registry stored the canary under another digest")
        return done(True, 201)


def _refusal(step: str, resp: requests.Response) -> str:
    text = resp.text[:200].strip() if resp.headers.get("Content-Length", "0") != "0" else ""
    return f"{step} answered HTTP {resp.status_code}" + (f": {text}" if text else "")
