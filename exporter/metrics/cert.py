"""cert reading -> cert_* families, labelled by source (served/file) and target."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import InfoMetricFamily, Metric

from exporter.metrics.families import CACHED, NAMESPACE, flag, gauge
from registry_monitor.probes.cert import CertsStatus
from registry_monitor.probes.reading import Reading


def render(reading: Reading[CertsStatus]) -> Iterator[Metric]:
    status = reading.value
    if status is None:
        return
    st = ["source", "target"]
    not_after = gauge(
        "cert_not_after_timestamp_seconds", "Certificate's notAfter as unix time.", st
    )
    not_before = gauge(
        "cert_not_before_timestamp_seconds", "Certificate's notBefore as unix time.", st
    )
    valid = gauge(
        "cert_valid",
        "1 if the chain verifies against the trust store and the name matches public_url, now.",
        st,
    )
    info = InfoMetricFamily(
        NAMESPACE + "cert",
        "Certificate details" + CACHED,
        labels=st,
    )
    for c in status.certs:
        if not c.fetched:
            continue
        labels = [c.source, c.target]
        assert c.not_after is not None and c.not_before is not None
        not_after.add_metric(labels, c.not_after)
        not_before.add_metric(labels, c.not_before)
        valid.add_metric(labels, flag(c.valid))
        info.add_metric(
            labels,
            {
                "subject": c.subject or "",
                "issuer": c.issuer or "",
                "serial": c.serial or "",
                "fingerprint_sha256": c.fingerprint_sha256 or "",
            },
        )
    yield from (not_after, not_before, valid, info)
    if status.served_matches_file is not None:
        served = status.by_source("served")
        matches = gauge(
            "cert_served_matches_file",
            "1 if the served certificate is the one in cert_file (0: renewed but not reloaded?).",
            ["target"],
        )
        matches.add_metric([served.target if served else ""], flag(status.served_matches_file))
        yield matches
