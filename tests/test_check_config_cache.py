"""check_registry's cache of the validated config: exact, private, and never in the way."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from checks import config_file
from registry_monitor.config import Config, ConfigError


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
    inputs, config = pickle.loads(cache.read_bytes())
    assert inputs == config_file._inputs(b"node: one\n")
    assert inputs[:2] == (config_file.FORMAT, b"node: one\n")
    assert config == Config(node="one")
    assert (cache.stat().st_mode & 0o777, cache.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    # the cache answers for these inputs: a planted Config proves it was read
    plant(cache, inputs, Config(node="from-cache"))
    assert config_file.load(path).node == "from-cache"


def plant(cache: Path, inputs: tuple[object, ...], config: object) -> None:
    cache.write_bytes(pickle.dumps((inputs, config)))


def test_a_change_of_the_validating_code_or_host_name_validates_again(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("role: standby\n")
    inputs = config_file._inputs(b"role: standby\n")
    cache = config_file.cache_file(path)
    assert cache is not None
    cache.parent.mkdir(mode=0o700, parents=True)
    # as written by another version of config.py: not used
    older = (*inputs[:2], b"# another version\n", *inputs[3:])
    plant(cache, older, Config(node="old", role="standby"))
    cache.chmod(0o600)
    real = os.uname()
    assert config_file.load(path).node == real.nodename
    # the default node is the host name: renaming the host validates again
    renamed = os.uname_result((real.sysname, "renamed", real.release, real.version, real.machine))
    monkeypatch.setattr(os, "uname", lambda: renamed)
    assert config_file.load(path).node == "renamed"
    assert pickle.loads(cache.read_bytes())[0][-1] == "renamed"


def test_any_change_to_the_file_is_read(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_file.load(path)
    path.write_text("node: two\n")  # same size, maybe the same mtime tick
    assert config_file.load(path).node == "two"
    path.write_text("node: [\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        config_file.load(path)


def test_an_invalid_config_is_never_cached(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("nod: one\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="nod: unknown key"):
            config_file.load(path)
    assert not (cache_home / "registry-monitor").exists()


def test_a_cache_file_others_may_write_or_garbage_is_ignored(
    tmp_path: Path, cache_home: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_file.load(path)
    cache = config_file.cache_file(path)
    assert cache is not None
    inputs = config_file._inputs(b"node: one\n")
    plant(cache, inputs, Config(node="planted"))
    cache.chmod(0o620)
    assert config_file.load(path).node == "one"  # and the cache is written afresh
    assert cache.stat().st_mode & 0o777 == 0o600
    for garbage in (b"\x00garbage", pickle.dumps((inputs, {"node": "not a Config"}))):
        cache.write_bytes(garbage)
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
