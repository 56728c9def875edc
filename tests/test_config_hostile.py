"""Config files that would hang, flood or leak: each is one short line, at once.

Run through both commands as operators run them, under a hard bound, so a
regression fails here instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from registry_monitor.config import MAX_CONFIG_BYTES, ConfigError
from registry_monitor.config.loading import load_config
from testbed.exporter import exporter_argv
from tests.support.check import CHECK_REGISTRY
from tests.support.reasons import value_error

BOUND = 20  # seconds; before the fixes the bombs ran for minutes


def alias_bomb(key: str, levels: int = 9) -> str:
    """The billion-laughs pattern: 9 levels of 9 aliases, under `key`."""
    lines = [f"{key}:", "  - &l0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, levels):
        lines.append(f"  - &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def run_both(config: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    exporter = subprocess.run(
        [*exporter_argv(), "--config", str(config), "--web.listen-address", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    check = subprocess.run(
        [CHECK_REGISTRY, f"--config={config}", "disk", "-t", "5"],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=False,
    )
    return exporter, check


def assert_refused_in_one_short_line(config: Path, *expected: str) -> None:
    exporter, check = run_both(config)
    assert (exporter.returncode, exporter.stdout) == (2, ""), exporter.stderr[-500:]
    assert "Traceback" not in exporter.stderr
    # One line, or the file's line and one for the bad key (README's format).
    lines = exporter.stderr.splitlines()
    assert 1 <= len(lines) <= 2 and all(len(x) < 300 for x in lines), exporter.stderr[:600]
    assert lines[0].startswith(f"registry-exporter: {config}: ")
    line = " ".join(lines)
    assert check.returncode == 3, check.stdout[-500:]
    first = check.stdout.splitlines()[0]
    assert first.startswith(f"REGISTRY DISK UNKNOWN - {config}: "), first[:300]
    assert len(check.stdout) < 1000, check.stdout[:1000]
    for text in expected:
        assert text in line and text in first, (text, line, first)


@pytest.mark.parametrize("key", ["node", "services", "canary_images"])
def test_alias_bomb_is_refused_at_once(tmp_path: Path, key: str) -> None:
    config = tmp_path / "bomb.yaml"
    config.write_text(alias_bomb(key))
    assert len(config.read_bytes()) < 600
    assert_refused_in_one_short_line(config, "aliases expand to more than")


def test_alias_that_contains_itself_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "loop.yaml"
    config.write_text("services: &s [a.service, *s]\n")
    assert_refused_in_one_short_line(config, "alias")


def test_a_config_past_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    config = tmp_path / "huge.yaml"
    config.write_text("node: " + "x" * (10 * 1024 * 1024) + "\n")
    assert_refused_in_one_short_line(config, f"larger than {MAX_CONFIG_BYTES} bytes")


def test_a_long_bad_value_is_shortened_in_the_error(tmp_path: Path) -> None:
    config = tmp_path / "long.yaml"
    config.write_text("listen: '" + "9" * 500_000 + "'\n")  # under the cap, not HOST:PORT
    assert_refused_in_one_short_line(config, "listen: expected HOST:PORT", "(got '9999")


def test_a_number_too_long_to_convert_is_bad_yaml(tmp_path: Path) -> None:
    config = tmp_path / "digits.yaml"
    config.write_text("catalog_page_size: " + "9" * 500_000 + "\n")
    why = value_error(lambda: int("9" * 500_000))  # the interpreter's words, cut short
    assert_refused_in_one_short_line(config, f"not valid YAML: {why[:60]}")


def test_credentials_in_a_bad_url_are_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "creds.yaml"
    config.write_text("backend_url: ftp://admin:hunter2@registry.example\n")
    assert_refused_in_one_short_line(config, "backend_url: expected an http", "registry.example")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "hunter2" not in str(err.value) and "admin" not in str(err.value)


def test_credentials_deep_in_a_bad_value_are_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "creds.yaml"
    config.write_text("canary_images: [{url: 'https://admin:hunter2@registry.example/x'}]\n")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert "hunter2" not in str(err.value), str(err.value)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    assert_refused_in_one_short_line(fifo, "is a FIFO, not a regular file")


def test_many_bad_keys_are_listed_up_to_a_bound(tmp_path: Path) -> None:
    config = tmp_path / "keys.yaml"
    config.write_text("".join(f"key{i}: {i}\n" for i in range(5000)))
    with pytest.raises(ConfigError) as err:
        load_config(config)
    lines = str(err.value).splitlines()
    assert len(lines) == 12 and lines[-1] == "  ... and 4990 more"


def test_a_device_is_refused(tmp_path: Path) -> None:
    assert_refused_in_one_short_line(Path("/dev/zero"), "not a regular file")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert_refused_in_one_short_line(tmp_path, "is a directory, not a regular file")


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused(tmp_path: Path, opening: str) -> None:
    config = tmp_path / "deep.yaml"
    closing = "]" if opening == "[" else "}"
    config.write_text(f"node: {opening * 2000}x{closing * 2000}\n")
    assert_refused_in_one_short_line(config, "nested more than")


def test_an_ordinary_anchor_still_works(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text(
        "services: &units [docker-registry.service, nginx.service]\n"
        "thresholds:\n"
        "  disk_used_percent: &levels {warning: 70, critical: 85}\n"
        "  disk_inodes_used_percent: *levels\n"
    )
    loaded = load_config(config)
    assert loaded.services == ("docker-registry.service", "nginx.service")
    assert loaded.thresholds.disk_inodes_used_percent.critical == 85
