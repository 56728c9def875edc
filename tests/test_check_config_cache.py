"""check_registry's cache of the parsed config: exact, private, and never in the way."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from checks import config_file
from registry_monitor.config import ConfigError


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_parsed_once_then_served_from_the_cache(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    assert config_file.load(path).node == "one"
    cache = config_file.cache_file(path)
    assert cache is not None and cache.parent == cache_home / "registry-monitor"
    assert marshal.loads(cache.read_bytes()) == (1, b"node: one\n", {"node": "one"})
    assert (cache.stat().st_mode & 0o777, cache.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    # the cache answers for these bytes only: a planted document proves it was read
    cache.write_bytes(marshal.dumps((1, b"node: one\n", {"node": "from-cache"})))
    assert config_file.load(path).node == "from-cache"


def test_any_change_to_the_file_is_read(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_file.load(path)
    path.write_text("node: two\n")  # same size, maybe the same mtime tick
    assert config_file.load(path).node == "two"
    path.write_text("node: [\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        config_file.load(path)


def test_a_cached_document_is_validated_every_time(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("nod: one\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="nod: unknown key"):
            config_file.load(path)


def test_a_cache_file_others_may_write_or_garbage_is_ignored(
    tmp_path: Path, cache_home: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_file.load(path)
    cache = config_file.cache_file(path)
    assert cache is not None
    cache.write_bytes(marshal.dumps((1, b"node: one\n", {"node": "planted"})))
    cache.chmod(0o620)
    assert config_file.load(path).node == "one"  # and the cache is written afresh
    assert cache.stat().st_mode & 0o777 == 0o600
    cache.write_bytes(b"\x00garbage")
    assert config_file.load(path).node == "one"


def test_no_cache_without_a_writable_home(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    cache_home.write_text("a file where the cache directory would go")
    assert config_file.load(path).node == "one"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME")
    assert config_file.cache_file(path) is None
    assert config_file.load(path).node == "one"


def test_unreadable_files_keep_their_errors(tmp_path: Path, cache_home: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        config_file.load(tmp_path / "absent.yaml")
    assert not (cache_home / "registry-monitor").exists()
