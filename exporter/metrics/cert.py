"""cert reading -> cert_* families, labelled by source (served/file) and target."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import InfoMetricFamily, Metric

from exporter.metrics.families import CACHED, NAMESPACE, flag, gauge
from registry_monitor.probes.cert import CertsStatus
from registry_monitor.probes.reading import Measured


def render(reading: Measured[CertsStatus]) -> Iterator[Metric]:
    status = reading.value
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
    chain = gauge(
        "cert_chain_not_after_timestamp_seconds",
        "Earliest notAfter among the chain's intermediates (the path that verifies; the leaf "
        "and the trust anchor left out). Absent without intermediates.",
        st,
    )
    name = gauge(
        "cert_name_matches", "1 if the certificate's subjectAltNames cover public_url's host.", st
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
        name.add_metric(labels, flag(c.name_matches))
        if c.chain_not_after is not None:
            chain.add_metric(labels, c.chain_not_after)
        info.add_metric(
            labels,
            {
                "subject": c.subject or "",
                "issuer": c.issuer or "",
                "serial": c.serial or "",
                "fingerprint_sha256": c.fingerprint_sha256 or "",
            },
        )
    yield from (not_after, not_before, valid, name, chain, info)
    if status.key is not None:
        readable = gauge(
            "cert_key_readable",
            "1 if this exporter can read cert_key_file (0: not readable, which is not a mismatch).",
            ["target"],
        )
        readable.add_metric([status.key.path], flag(status.key.readable))
        yield readable
        if status.key.matches is not None:
            matches = gauge(
                "cert_key_matches",
                "1 if cert_key_file holds the private key of the certificate (cert_file's, else "
                "the served one); absent while the key is not readable.",
                ["target"],
            )
            matches.add_metric([status.key.path], flag(status.key.matches))
            yield matches
    if status.served_matches_file is not None:
        served = status.by_source("served")
        matches = gauge(
            "cert_served_matches_file",
            "1 if the served certificate is the one in cert_file (0: renewed but not reloaded?).",
            ["target"],
        )
        matches.add_metric([served.target if served else ""], flag(status.served_matches_file))
        yield matches
