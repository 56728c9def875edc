"""api: is the registry answering, on its backend port and through nginx?

For each endpoint (backend_url, public_url): `GET /v2/` (200 or 401 is up,
with the API version header the registry always sends), the whole catalog
walked page by page through `Link` headers, and a `HEAD` of each canary
image's manifest. All bodies are size-capped and the walk is bounded. On
public_url also an anonymous push, which must be refused (anonymous_push.py).

The endpoints are checked side by side, each on its own client with the
whole deadline: a backend that hangs or drips its answer is down with the
reason, and says nothing about `public`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients import bounded_json
from registry_monitor.clients.http import Client, RequestFailed, redact_url
from registry_monitor.clients.registry_api import (
    API_VERSION_HEADER,
    DIGEST_HEADER,
    MANIFEST_ACCEPT,
    next_link,
    split_image,
)
from registry_monitor.config import Config
from registry_monitor.probes.anonymous_push import AnonymousPush, try_anonymous_push
from registry_monitor.probes.public_name import RESOLVE_SECONDS, PublicName, resolve

# A page holds at most catalog.maxentries (1000) names of at most 255 characters (260 kB):
# a larger page, or one of more values, is not a catalog page and is refused undecoded.
MAX_CATALOG_PAGE_BYTES = 4 * 1024 * 1024
MAX_CATALOG_VALUES = 100_000


@dataclass(frozen=True, slots=True)
class CatalogStatus:
    """The backend's catalog, walked page by page."""

    up: bool
    repositories: int | None
    pages: int
    duration_seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ManifestStatus:
    """One canary image's manifest, asked for by tag."""

    image: str
    up: bool
    status_code: int | None
    digest: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """One endpoint's answer to GET /v2/."""

    endpoint: str  # "backend" or "public"
    url: str
    up: bool
    status_code: int | None
    duration_seconds: float | None
    error: str | None
    catalog: CatalogStatus | None
    manifests: tuple[ManifestStatus, ...]
    anonymous_push: AnonymousPush | None = None  # public only: must be refused


@dataclass(frozen=True, slots=True)
class ApiStatus:
    """The registry API as the backend and the public URL answer it."""

    endpoints: tuple[EndpointStatus, ...]
    public_name: PublicName | None = None  # where public_url's host resolves


class ApiProbe:
    name = "api"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.targets = (("backend", config.backend_url), ("public", config.public_url))
        public_host = urlsplit(config.public_url).hostname or ""
        pin = (public_host, config.public_connect) if config.public_connect else None
        # One client per endpoint: they are used from two threads at once.
        self.clients = {e: Client(config.ca_file, pin) for e, _ in self.targets}
        self.page_cap = min(config.max_body_bytes, MAX_CATALOG_PAGE_BYTES)

    def __call__(self, deadline: Deadline) -> ApiStatus:
        name = resolve(  # first: bounded, and never left with the endpoints' leftovers
            self.config.public_url,
            self.config.public_addresses,
            self.config.role,
            deadline.io_timeout(RESOLVE_SECONDS),
        )
        # Two threads, not concurrent.futures: its import (logging) costs the check ~15 ms.
        found: dict[str, EndpointStatus | BaseException] = {}

        def check(endpoint: str, base: str) -> None:
            try:
                found[endpoint] = self.check_endpoint(endpoint, base, deadline)
            except BaseException as exc:  # raised again below, in the probe's own thread
                found[endpoint] = exc

        threads = [
            threading.Thread(target=check, args=target, name=f"probe-api-{target[0]}", daemon=True)
            for target in self.targets
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = []
        for endpoint, _ in self.targets:
            status = found[endpoint]
            if isinstance(status, BaseException):
                raise status
            statuses.append(status)
        return ApiStatus(tuple(statuses), name)

    def check_endpoint(self, endpoint: str, base: str, deadline: Deadline) -> EndpointStatus:
        client = self.clients[endpoint]
        url = f"{base}/v2/"
        shown = redact_url(base)
        begin = time.monotonic()
        try:
            resp = client.get(url, timeout=deadline.io_timeout())
            resp.read_capped(65536, deadline)
        except (RequestFailed, ProbeFailed) as exc:
            return EndpointStatus(endpoint, shown, False, None, None, str(exc), None, ())
        duration = time.monotonic() - begin
        error: str | None = None
        if resp.status not in (200, 401):
            error = f"GET /v2/ answered HTTP {resp.status}"
        elif API_VERSION_HEADER not in resp.headers:
            error = f"GET /v2/ answered without {API_VERSION_HEADER}: not a registry"
        up = error is None
        catalog = self.walk_catalog(client, base, deadline) if up else None
        manifests = tuple(
            self.head_manifest(client, base, img, deadline) for img in self.config.canary_images
        )
        pushed = (
            try_anonymous_push(client, base, self.config.write_canary_repository, deadline)
            if up and endpoint == "public" and base != self.config.backend_url
            else None  # a public_url that is the backend itself has no front to refuse it
        )
        return EndpointStatus(
            endpoint, shown, up, resp.status, duration, error, catalog, manifests, pushed
        )

    def walk_catalog(self, client: Client, base: str, deadline: Deadline) -> CatalogStatus:
        url: str | None = f"{base}/v2/_catalog?n={self.config.catalog_page_size}"
        seen: set[str] = set()
        pages = repositories = 0
        last_name: str | None = None
        begin = time.monotonic()

        def failed(reason: str) -> CatalogStatus:
            return CatalogStatus(False, None, pages, time.monotonic() - begin, reason)

        while url is not None:
            if url in seen:
                return failed(f"catalog Link header loops back to a page already read ({url})")
            if pages >= self.config.catalog_max_pages:
                return failed(f"catalog has more than {self.config.catalog_max_pages} pages")
            seen.add(url)
            try:
                resp = client.get(url, timeout=deadline.io_timeout())
                body = resp.read_capped(self.page_cap, deadline)
            except RequestFailed as exc:
                return failed(str(exc))
            except ProbeFailed as exc:
                return failed(f"catalog page {pages + 1}: {exc}")
            if resp.status != 200:
                return failed(f"catalog page {pages + 1} answered HTTP {resp.status}")
            try:
                names = parse_catalog_page(body)
            except bounded_json.JsonRefused as exc:
                return failed(f"catalog page {pages + 1} refused: {exc}")
            if names is None:
                return failed(f"catalog page {pages + 1} is not a JSON repository list")
            pages += 1
            if names and last_name is not None and names[0] <= last_name:
                return failed(f"catalog page {pages} does not advance past {last_name!r}")
            if names:
                last_name = names[-1]
            repositories += len(names)
            url = next_link(resp.headers.get("Link"), url)
        return CatalogStatus(True, repositories, pages, time.monotonic() - begin)

    def head_manifest(
        self, client: Client, base: str, image: str, deadline: Deadline
    ) -> ManifestStatus:
        name, ref = split_image(image)
        url = f"{base}/v2/{quote(name, safe='/')}/manifests/{quote(ref, safe=':')}"
        try:
            resp = client.head(
                url, headers={"Accept": MANIFEST_ACCEPT}, timeout=deadline.io_timeout()
            )
            resp.close()
        except RequestFailed as exc:
            return ManifestStatus(image, False, None, None, str(exc))
        digest = resp.headers.get(DIGEST_HEADER)
        if resp.status == 200 and "@" in image and digest != ref:
            # pinned by digest: another manifest under that name is not the canary
            reason = f"digest mismatch: pinned {ref}, answered {digest or 'none'}"
            return ManifestStatus(image, False, 200, digest, reason)
        if resp.status == 200:
            return ManifestStatus(image, True, 200, digest)
        reason = "not found" if resp.status == 404 else f"HTTP {resp.status}"
        return ManifestStatus(image, False, resp.status, None, reason)


def parse_catalog_page(body: bytes) -> list[str] | None:
    """The repository names of one catalog page, or None if it is not one; JsonRefused
    for a page that would cost more to decode than a page of names can."""
    try:
        doc = bounded_json.loads(body, max_bytes=len(body), max_values=MAX_CATALOG_VALUES)
    except bounded_json.JsonRefused as exc:
        if str(exc) == "not JSON":
            return None
        raise
    if not isinstance(doc, dict):
        return None
    names = doc.get("repositories")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names
