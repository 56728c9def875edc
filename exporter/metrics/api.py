"""api reading -> api_*, catalog_*, manifest_* families, labelled by endpoint, and
public_name_* (where public_url's host points)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from exporter.metrics.families import flag, gauge, single_gauge
from registry_monitor.probes.api import ApiStatus
from registry_monitor.probes.reading import Measured


def render(reading: Measured[ApiStatus]) -> Iterator[Metric]:
    status = reading.value
    ep = ["endpoint"]
    up = gauge(
        "api_up", "1 if GET /v2/ answered as a registry (200 or 401 with the API header).", ep
    )
    duration = gauge("api_duration_seconds", "Seconds GET /v2/ took.", ep)
    code = gauge("api_status_code", "HTTP status of GET /v2/ (0: no answer).", ep)
    cat_up = gauge("catalog_up", "1 if the whole catalog could be walked.", ep)
    cat_repos = gauge("catalog_repositories", "Repositories listed by the catalog.", ep)
    cat_pages = gauge("catalog_pages", "Catalog pages read in the last walk.", ep)
    cat_duration = gauge("catalog_duration_seconds", "Seconds the whole catalog walk took.", ep)
    manifest = gauge(
        "manifest_up",
        "1 if HEAD of the canary image's manifest answered 200.",
        ["endpoint", "image"],
    )
    for e in status.endpoints:
        labels = [e.endpoint]
        up.add_metric(labels, flag(e.up))
        code.add_metric(labels, float(e.status_code or 0))
        if e.duration_seconds is not None:
            duration.add_metric(labels, e.duration_seconds)
        cat_up.add_metric(labels, flag(e.catalog is not None and e.catalog.up))
        if e.catalog is not None:
            cat_pages.add_metric(labels, float(e.catalog.pages))
            cat_duration.add_metric(labels, e.catalog.duration_seconds)
            if e.catalog.repositories is not None:
                cat_repos.add_metric(labels, float(e.catalog.repositories))
        for m in e.manifests:
            manifest.add_metric([e.endpoint, m.image], flag(m.up))
    yield from (up, duration, code, cat_up, cat_repos, cat_pages, cat_duration, manifest)
    pushes = [e.anonymous_push for e in status.endpoints if e.anonymous_push is not None]
    if pushes and pushes[0].refused is not None:
        yield single_gauge(
            "anonymous_push_refused",
            "1 if an anonymous POST /v2/<write canary>/blobs/uploads/ through public_url was "
            "refused (401/403), 0 if accepted (anyone can push); absent when neither.",
            flag(pushes[0].refused),
        )
    name = status.public_name
    if name is None:
        return
    yield single_gauge(
        "public_name_resolves",
        "1 if public_url's host resolved (system resolver, time-bounded) to an address.",
        flag(name.resolves),
    )
    if name.points_here is not None:
        yield single_gauge(
            "public_name_points_here",
            "1 if public_url's host resolves to one of this node's public_addresses; "
            "absent when public_addresses is not set.",
            flag(name.points_here),
        )
