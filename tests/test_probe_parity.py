"""parity: digests of files with declared lines left out, and the comparison's reasons."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest

from registry_monitor.base import Deadline
from registry_monitor.config import ConfigError
from registry_monitor.config.validation import parse_config
from registry_monitor.probes.parity import (
    MAX_ITEMS,
    NodeDescription,
    ParityItem,
    ParityMatch,
    RegistryVersion,
    compare,
    description_json,
    file_digest,
    parity_key,
    parse_description,
)

SITE_A = "server {\n    listen 443 ssl;\n    server_name tools-docker-registry-03;\n}\n"
SITE_B = "server {\n    listen 443 ssl;\n    server_name tools-docker-registry-04;\n}\n"
KEY = b"k" * 32


def hmac_hex(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def test_declared_lines_are_left_out_and_the_rest_must_match(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text(SITE_A)
    b.write_text(SITE_B)
    whole = (file_digest(a, (), KEY), file_digest(b, (), KEY))
    assert whole[0].digest == hmac_hex(KEY, SITE_A.encode())
    assert whole[0].digest != whole[1].digest
    ignore = (re.compile(r"^\s*server_name\s"),)
    left_out = (file_digest(a, ignore, KEY), file_digest(b, ignore, KEY))
    kept = "server {\n    listen 443 ssl;\n}\n"
    assert [(d.digest, d.ignored_lines) for d in left_out] == [
        (hmac_hex(KEY, kept.encode()), 1)
    ] * 2
    b.write_text(SITE_B.replace("443", "8443"))  # any other line still counts
    assert file_digest(b, ignore, KEY).digest != left_out[0].digest


def test_digests_are_keyed_by_the_token_and_tell_nothing_without_it(tmp_path: Path) -> None:
    """A `{SHA}` htpasswd entry's plain sha256 is a password found by a word list; the
    keyed digest is the same on both nodes only for the same token."""
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("pushbot:{SHA}8qdPhSEP4pdHyM2VCdnzTfsEhH8=\n")
    token = "a-long-random-shared-secret"
    key, shared = parity_key(token)
    assert shared
    assert key == hmac.new(token.encode(), b"registry-monitor parity v2", hashlib.sha256).digest()
    digest = file_digest(htpasswd, (), key).digest
    assert digest == hmac_hex(key, htpasswd.read_bytes())
    assert digest != hashlib.sha256(htpasswd.read_bytes()).hexdigest()
    assert file_digest(htpasswd, (), parity_key(token)[0]).digest == digest  # the other node
    assert file_digest(htpasswd, (), parity_key(token + "x")[0]).digest != digest
    alone, shared = parity_key(None)  # no token: a random key, never shared
    assert not shared
    assert alone != parity_key(None)[0]


def test_unreadable_file(tmp_path: Path) -> None:
    item = file_digest(tmp_path / "absent", (), KEY)
    assert (item.digest, item.error) == (
        None,
        f"cannot read {tmp_path / 'absent'}: No such file or directory",
    )


def describe(node: str, role: str, *items: ParityItem) -> NodeDescription:
    return NodeDescription(node, role, 1.0, items)


def test_comparison_names_what_differs_and_why() -> None:
    mine = describe(
        "b",
        "standby",
        ParityItem("registry_config", "file", "1" * 64),
        ParityItem("htpasswd", "file", None, "cannot read /etc/nginx/registry.htpasswd"),
        ParityItem("registry_version", "version", "github.com/docker/distribution 2.8.2"),
        ParityItem("extra", "file", "3" * 64),
    )
    theirs = describe(
        "a",
        "active",
        ParityItem("registry_config", "file", "2" * 64),
        ParityItem("htpasswd", "file", "4" * 64),
        ParityItem("registry_version", "version", "github.com/docker/distribution 2.8.3"),
        ParityItem("nginx_site", "file", "5" * 64),
    )
    assert compare(mine, theirs) == (
        ParityMatch(
            "registry_config", False, "digest 111111111111 here, 222222222222 on the active"
        ),
        ParityMatch(
            "htpasswd", False, "cannot compare, here: cannot read /etc/nginx/registry.htpasswd"
        ),
        ParityMatch(
            "registry_version",
            False,
            "'github.com/docker/distribution 2.8.2' here, "
            "'github.com/docker/distribution 2.8.3' on the active",
        ),
        ParityMatch("nginx_site", False, "not described here (parity_files differ?)"),
        ParityMatch("extra", False, "not described by the active a"),
    )
    assert compare(theirs, theirs) == tuple(ParityMatch(i.item, True) for i in theirs.items)


def test_description_round_trip_and_garbage() -> None:
    d = describe("a", "active", ParityItem("htpasswd", "file", "4" * 64, None, 2))
    assert parse_description(description_json(d)) == d
    for bad, reason in (
        ([], "not a format 2 parity description"),
        ({"format": 1, "items": []}, "not a format 2 parity description"),  # plain digests
        ({"format": 2, "items": [{"digest": "x"}]}, "an item without a name"),
        ({"format": 2, "items": [], "node": "a"}, "node, role and generated_at are required"),
        ({"format": 2, "items": 5}, "items is not a list"),
        (
            {"format": 2, "items": [{"item": "a", "ignored_lines": [1]}]},
            "item a: kind must be a string, ignored_lines an integer",
        ),
    ):
        with pytest.raises(ValueError, match=re.escape(reason)):
            parse_description(bad)


def test_the_peers_strings_are_cut_to_a_lines_length() -> None:
    long = "x" * 100_000
    item = {"item": long, "kind": long, "digest": long, "error": long}
    doc = {"format": 2, "node": long, "role": "active", "generated_at": 1.0, "items": [item]}
    described = parse_description(doc)
    (kept,) = described.items
    assert {len(described.node), len(kept.item), len(kept.kind)} == {300}
    assert (len(kept.digest or ""), len(kept.error or "")) == (300, 300)


def test_items_past_the_cap_are_counted_not_kept() -> None:
    items = [{"item": f"i{n}", "digest": None} for n in range(15_000)]
    doc = {"format": 2, "node": "a", "role": "active", "generated_at": 1.0, "items": items}
    described = parse_description(doc)
    assert [i.item for i in described.items] == [f"i{n}" for n in range(MAX_ITEMS)]
    assert described.more_items == 15_000 - MAX_ITEMS


def test_config_names_a_bad_declaration() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"parity_ignore_lines": {"nginx": ["^server_name"], "htpasswd": ["("]}})
    text = str(err.value)
    assert "parity_ignore_lines.nginx: not a file named in parity_files" in text
    assert "parity_ignore_lines.htpasswd[0]: not a regular expression" in text


def script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_the_registry_version_as_the_binary_tells_it(tmp_path: Path) -> None:
    binary = script(tmp_path / "registry", 'echo "$0 github.com/docker/distribution 2.8.2+ds1"')
    assert RegistryVersion(binary).item(Deadline(10)) == ParityItem(
        "registry_version", "version", "github.com/docker/distribution 2.8.2+ds1"
    )
    failing = script(tmp_path / "failing", "exit 3")
    assert RegistryVersion(failing).item(Deadline(10)).error == f"{failing} --version exited 3"
    missing = str(tmp_path / "missing")
    assert RegistryVersion(missing).item(Deadline(10)).error == (
        f"{missing} --version: [Errno 2] No such file or directory: '{missing}'"
    )


@pytest.mark.parametrize("body", ["exec sleep 60", "sleep 60"])
def test_a_registry_binary_that_hangs_is_cut_at_the_deadline(tmp_path: Path, body: str) -> None:
    """Cut at the deadline, its children too: a wrapper script's `sleep` holds the pipes."""
    hanging = script(tmp_path / "hanging", body)
    run = RegistryVersion(hanging)
    began = time.monotonic()
    item = run.item(Deadline(0.3))
    assert time.monotonic() - began < 30  # not the 60 s its child sleeps
    assert item.digest is None and item.error is not None
    assert item.error.startswith(f"{hanging} --version: Command ")
    assert "timed out" in item.error
    assert run.process is not None and run.process.returncode is not None  # killed, reaped
