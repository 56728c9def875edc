"""check_registry cert on the real registry serving TLS, with certificates made per case."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from testbed.certs import CertFiles, issue, issue_via_intermediate, now, self_signed
from testbed.exporter import Exporter
from testbed.registry import Registry
from testbed.waiting import closed_port
from tests.support.check import CheckRun, run_check, write_config
from tests.support.metrics import value
from tests.support.nodes import quiet_config
from tests.support.tls_reasons import cryptography_refusal, openssl_refusal

NAME = "registry.test"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[CertFiles], Registry]]:
    started: list[Registry] = []

    def start(cert: CertFiles) -> Registry:
        reg = Registry(tmp_path / f"tls{len(started)}", tls=(cert.cert, cert.key)).start()
        started.append(reg)
        return reg

    yield start
    for reg in started:
        reg.stop()


def check(
    tmp_path: Path,
    port: int,
    ca_file: Path,
    cert_file: Path | None,
    *args: str,
    key_file: Path | None = None,
) -> CheckRun:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "data_dir": str(tmp_path),
            "public_url": f"https://{NAME}",
            "public_connect": f"127.0.0.1:{port}",
            "ca_file": str(ca_file),
            "cert_file": None if cert_file is None else str(cert_file),
            "cert_key_file": None if key_file is None else str(key_file),
        },
    )
    return run_check(config, "cert", *args)


def until(cert: CertFiles) -> str:
    return cert.not_after.strftime("%Y-%m-%d %H:%M UTC")


def test_valid_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME, days=60)
    run = check(tmp_path, serve(cert).port, ca_file, cert.cert, "-v")
    assert (run.exit_code, run.state, run.text) == (
        0,
        "OK",
        f"served certificate valid, 60 days left (until {until(cert)}), the same in the file",
    )
    assert run.long == [
        f"[OK] served certificate of {NAME}:443 expires in 60.0 days ({until(cert)})",
        f"[OK] {cert.cert} expires in 60.0 days ({until(cert)})",
        f"[OK] nginx serves the certificate in {cert.cert}",
    ]
    days = run.perf("served_days_left")
    assert (days.value, days.uom, days.warn, days.crit) == (
        pytest.approx(59.96, abs=0.01),
        "",
        "21:",
        "7:",
    )
    assert (run.perf("served_valid").value, run.perf("file_valid").value) == (1, 1)
    assert run.perf("served_matches_file").value == 1


@pytest.mark.parametrize(
    ("days", "args", "code", "state", "why"),
    [
        # 90-day certificates with 10 and 3 days left: the days decide (the share is lower)
        (10, (), 1, "WARNING", "(warning < 21) and 11% of its lifetime left"),
        (3, (), 2, "CRITICAL", "(critical < 7) and 3% of its lifetime left"),
        (10, ("-w", "5", "-c", "3"), 0, "OK", ""),  # bare numbers: fewer than N days
        (40, ("-w", "45"), 1, "WARNING", "(warning < 45)"),
        (40, ("-c", "@30:50"), 2, "CRITICAL", "(critical within 30..50)"),
    ],
)
def test_days_left_thresholds(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    days: int,
    args: tuple[str, ...],
    code: int,
    state: str,
    why: str,
) -> None:
    issued = now() - dt.timedelta(days=90 - days)  # 90 days of life, `days` of them left
    cert = issue(ca, tmp_path / "c", NAME, not_before=issued, days=90)
    run = check(tmp_path, serve(cert).port, ca_file, None, *args)
    assert (run.exit_code, run.state) == (code, state)
    if why:
        left = days
        assert run.text == (
            f"served certificate of {NAME}:443 expires in {left:.1f} days ({until(cert)}) {why}"
        )


def test_expired_certificate_is_critical(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME, not_before=now() - dt.timedelta(days=10), days=5)
    reg = serve(cert)
    run = check(tmp_path, reg.port, ca_file, None)
    reason = openssl_refusal(("127.0.0.1", reg.port), NAME, ca_file)  # OpenSSL's words
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"served certificate of {NAME}:443 is not valid: {reason}; "
        f"served certificate of {NAME}:443 expired 5.0 days ago ({until(cert)}) (critical < 7)",
    )
    assert run.perf("served_days_left").value == pytest.approx(-5.0, abs=0.01)
    assert run.perf("served_valid").value == 0


@pytest.mark.parametrize(
    ("make", "more"),
    [
        (
            lambda ca, d: issue(ca, d, "other.test", days=30),
            # the SANs' own verdict, apart from validity
            f"; served certificate of {NAME}:443 does not cover {NAME} (its names: other.test)",
        ),
        (lambda ca, d: self_signed(d, NAME, days=30), ""),
    ],
    ids=["wrong-name", "self-signed"],
)
def test_invalid_chain_or_name_is_critical(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    make: Callable[[trustme.CA, Path], CertFiles],
    more: str,
) -> None:
    cert = make(ca, tmp_path / "c")
    reg = serve(cert)
    run = check(tmp_path, reg.port, ca_file, None)
    reason = openssl_refusal(("127.0.0.1", reg.port), NAME, ca_file)
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"served certificate of {NAME}:443 is not valid: {reason}{more}",
    )


def test_renewed_file_not_served_is_a_warning(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    old = issue(ca, tmp_path / "old", NAME, days=50)
    new = issue(ca, tmp_path / "new", NAME, days=90)
    run = check(tmp_path, serve(old).port, ca_file, new.cert)
    assert (run.exit_code, run.state, run.text) == (
        1,
        "WARNING",
        f"served certificate differs from {new.cert} (renewed on disk, nginx not reloaded?)",
    )
    assert run.perf("served_matches_file").value == 0


def test_unreadable_file_is_unknown(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME, days=60)
    missing = tmp_path / "nope.crt"
    run = check(tmp_path, serve(cert).port, ca_file, missing)
    assert (run.exit_code, run.state, run.text) == (
        3,
        "UNKNOWN",
        f"{missing}: cannot read: {os.strerror(errno.ENOENT)}",
    )
    assert run.perf("served_days_left").value == pytest.approx(59.96, abs=0.01)


def test_nothing_listening_is_critical(ca_file: Path, tmp_path: Path) -> None:
    run = check(tmp_path, closed_port(), ca_file, None)
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"served certificate of {NAME}:443: cannot connect: {os.strerror(errno.ECONNREFUSED)}",
    )


def test_nothing_to_check_is_unknown(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {"data_dir": str(tmp_path), "public_url": "http://plain.test", "cert_file": None},
    )
    run = run_check(config, "cert")
    assert (run.exit_code, run.text) == (
        3,
        "no certificate to check: public_url is not https, cert_file null",
    )


def test_45_day_certificate_judged_by_the_share_of_its_lifetime(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    """15 of 45 days left (an ACME renewal not yet due): below 21 days, but a third of the
    lifetime left, so OK; at 9 days left (20 %) it warns, at 4 (9 %) it is critical."""
    for left, code, state, why in (
        (15, 0, "OK", ""),
        (9, 1, "WARNING", "(warning < 21) and 20% of its lifetime left"),
        (4, 2, "CRITICAL", "(critical < 7) and 9% of its lifetime left"),
    ):
        issued = now() - dt.timedelta(days=45 - left)
        cert = issue(ca, tmp_path / f"c{left}", NAME, not_before=issued, days=45)
        reg = serve(cert)
        run = check(tmp_path, reg.port, ca_file, None)
        assert (run.exit_code, run.state) == (code, state), run.text
        assert run.perf("served_lifetime_left_ratio").value == pytest.approx(left / 45, abs=1e-3)
        if why:
            assert run.text == (
                f"served certificate of {NAME}:443 expires in {left:.1f} days ({until(cert)}) {why}"
            )
        reg.stop()


def test_intermediate_expiring_before_the_leaf_is_critical(
    tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    chain = issue_via_intermediate(tmp_path / "c", NAME, days=60, intermediate_days=5)
    run = check(tmp_path, serve(chain.files).port, chain.ca_file, None, "-v")
    expires = chain.intermediate_not_after.strftime("%Y-%m-%d %H:%M UTC")
    left = 5 - 1 / 24
    assert (run.exit_code, run.state, run.text) == (
        2,
        "CRITICAL",
        f"served certificate of {NAME}:443: intermediate CN=Test Intermediate expires in "
        f"{left:.1f} days ({expires}) (before the leaf) (critical < 7)",
    )
    assert run.perf("served_chain_days_left").value == pytest.approx(left, abs=0.01)
    assert run.perf("served_days_left").value == pytest.approx(60 - 1 / 24, abs=0.01)


def test_key_that_does_not_match_the_certificate_is_critical(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    cert = issue(ca, tmp_path / "c", NAME, days=60)
    other = issue(ca, tmp_path / "other", NAME, days=60)
    port = serve(cert).port
    good = check(tmp_path, port, ca_file, cert.cert, "-v", key_file=cert.key)
    assert (good.exit_code, good.perf("key_matches").value) == (0, 1)
    assert f"[OK] key {cert.key} matches {cert.cert}" in good.long
    bad = check(tmp_path, port, ca_file, cert.cert, key_file=other.key)
    assert (bad.exit_code, bad.state, bad.text) == (
        2,
        "CRITICAL",
        f"key {other.key} does not match {cert.cert}: nginx cannot serve the pair",
    )
    assert bad.perf("key_matches").value == 0


def check_url(
    tmp_path: Path, public_url: str, ca_file: Path, cert_file: Path, connect: str | None = None
) -> CheckRun:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "data_dir": str(tmp_path),
            "public_url": public_url,
            "public_connect": connect,
            "ca_file": str(ca_file),
            "cert_file": str(cert_file),
        },
    )
    return run_check(config, "cert", "-v")


def test_an_ip_address_in_public_url_is_covered_by_an_ip_san(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    """public_url https://127.0.0.1:PORT, SANs DNS:localhost and IP:127.0.0.1: covered, served
    and on disk, on the run that reads the certificates and on the next, from the cache."""
    cert = issue(ca, tmp_path / "c", "localhost", "127.0.0.1", days=60)
    port = serve(cert).port
    for _ in range(2):
        run = check_url(tmp_path, f"https://127.0.0.1:{port}", ca_file, cert.cert)
        assert (run.exit_code, run.state, run.text) == (
            0,
            "OK",
            f"served certificate valid, 60 days left (until {until(cert)}), the same in the file",
        )
        assert (run.perf("served_valid").value, run.perf("file_valid").value) == (1, 1)


def test_an_ip_address_not_among_the_ip_sans_is_critical(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, serve: Callable[[CertFiles], Registry]
) -> None:
    """The answer lists the names of both kinds."""
    cert = issue(ca, tmp_path / "c", "localhost", "127.0.0.1", "127.0.0.2", days=60)
    port = serve(cert).port
    connect = f"127.0.0.1:{port}"
    run = check_url(tmp_path, f"https://127.0.0.3:{port}", ca_file, cert.cert, connect)
    served = f"served certificate of 127.0.0.3:{port}"
    openssl = openssl_refusal(("127.0.0.1", port), "127.0.0.3", ca_file)
    assert (run.exit_code, run.state) == (2, "CRITICAL")
    on_disk = cryptography_refusal(cert.cert, "127.0.0.3", ca_file)
    names = "(its names: localhost, 127.0.0.1, 127.0.0.2)"
    assert [line for line in run.long if line.startswith("[CRITICAL]")] == [
        f"[CRITICAL] {served} is not valid: {openssl}",
        f"[CRITICAL] {served} does not cover 127.0.0.3 {names}",
        f"[CRITICAL] {cert.cert} is not valid: {on_disk}",
        f"[CRITICAL] {cert.cert} does not cover 127.0.0.3 {names}",
    ]
    assert (run.perf("served_valid").value, run.perf("file_valid").value) == (0, 0)


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "one byte":
        at = len(data) // 2
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    elif how == "cut":
        path.write_bytes(data[: len(data) // 3])
    elif how == "huge":
        path.write_bytes(data + b" " * (2 << 20))
    else:  # a date as text, under a digest that matches
        doc = json.loads(data.split(b"\n", 1)[1])
        for row in doc["facts"].values():
            row[4] = str(row[4])
        body = json.dumps(doc).encode()
        path.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


@pytest.mark.parametrize("how", ["one byte", "cut", "huge", "wrong types"])
def test_a_damaged_facts_file_gives_the_same_answer_and_is_rewritten(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    facts = tmp_path / "cache" / "registry-monitor" / "cert-facts.json"
    cert = issue(ca, tmp_path / "c", NAME, days=60)
    port = serve(cert).port
    first = check(tmp_path, port, ca_file, cert.cert, "-v")
    good = facts.read_bytes()
    assert first.state == "OK" and good
    damage(facts, how)
    assert facts.read_bytes() != good
    again = check(tmp_path, port, ca_file, cert.cert, "-v")
    assert (again.exit_code, again.text, again.long) == (0, first.text, first.long)
    assert facts.read_bytes() == good  # read again and written whole


def test_ip_sans_judged_alike_by_check_registry_and_the_exporter(
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    serve: Callable[[CertFiles], Registry],
    start_exporter: Callable[..., Exporter],
) -> None:
    """One judgement of an IP address in public_url: check_registry's answer, /api/status
    and the metrics."""
    cert = issue(ca, tmp_path / "c", "localhost", "127.0.0.1", days=60)
    url = f"https://127.0.0.1:{serve(cert).port}"
    config = quiet_config(tmp_path, public_url=url, ca_file=str(ca_file), cert_file=str(cert.cert))
    run = run_check(write_config(tmp_path / "config.yaml", config), "cert", "-v")
    exporter = start_exporter(config, wait_for=("cert",))
    cert_probe = exporter.probe_status("cert")
    assert (run.state, cert_probe["state"]) == ("OK", "OK")
    assert cert_probe["reasons"] == run.long
    assert [c["addresses"] for c in cert_probe["value"]["certs"]] == [["127.0.0.1"]] * 2
    text = exporter.metrics_text()
    for source, target in (("served", url.removeprefix("https://")), ("file", str(cert.cert))):
        labels = {"source": source, "target": target}
        assert value(text, "registry_monitor_cert_name_matches", **labels) == 1, labels
        assert value(text, "registry_monitor_cert_valid", **labels) == 1, labels
