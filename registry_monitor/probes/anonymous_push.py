"""Anonymous writes refused: the api probe's question to the public name.

puppet's nginx site (modules/docker/templates/registry-nginx.conf.erb) lets anyone read
and puts every other method behind basic auth (`limit_except GET HEAD OPTIONS`); the
registry itself has no auth. That one block is all that keeps strangers from writing,
so an anonymous `POST /v2/<canary repository>/blobs/uploads/` (the first step of any
push) must be refused with 401 or 403. Should it be accepted (202), the upload it
opened is cancelled at once (`DELETE` of its Location), so the check leaves nothing
but the empty hash state registry 2.8 keeps until its upload purger runs. Not tried
when public_url is backend_url: there is no front there to refuse anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urljoin

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients.http import Client, RequestFailed

REFUSED = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class AnonymousPush:
    """What an unauthenticated upload got: refused, as it must be, or not."""

    refused: bool | None  # None: the answer says neither (an error, a 5xx, a 404...)
    status_code: int | None
    error: str | None = None
    cancelled: bool | None = None  # an accepted upload: whether its cancel was answered 2xx


def try_anonymous_push(
    client: Client, base: str, repository: str, deadline: Deadline
) -> AnonymousPush:
    url = f"{base}/v2/{quote(repository, safe='/')}/blobs/uploads/"
    try:
        resp = client.post(url, body=b"", timeout=deadline.io_timeout())
        resp.read_capped(65536, deadline)
    except (RequestFailed, ProbeFailed) as exc:
        return AnonymousPush(None, None, f"POST {url}: {exc}")
    if resp.status in REFUSED:
        return AnonymousPush(True, resp.status)
    if 200 <= resp.status < 300:
        return AnonymousPush(False, resp.status, None, _cancel(client, url, resp, deadline))
    return AnonymousPush(
        None, resp.status, f"POST {url} answered HTTP {resp.status}, neither 401/403 nor 2xx"
    )


def _cancel(client: Client, url: str, resp: object, deadline: Deadline) -> bool:
    location = getattr(resp, "headers", {}).get("Location")
    if not location:
        return False
    try:
        cancel = client.delete(urljoin(url, location), timeout=deadline.io_timeout())
        cancel.read_capped(65536, deadline)
    except (RequestFailed, ProbeFailed):
        return False
    return 200 <= cancel.status < 300
