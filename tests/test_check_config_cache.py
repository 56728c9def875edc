"""check_registry's cache of the validated config: exact, private, and never in the way."""

from __future__ import annotations

import binascii
import os
import pickle
import random
import shutil
import types
from pathlib import Path

import pytest

from checks import config_cache
from registry_monitor.config import Config, ConfigError
from registry_monitor.files import provenance


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_parsed_once_then_served_from_the_cache(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    assert config_cache.load(path).node == "one"
    cache = config_cache.cache_file(path)
    assert cache is not None and cache.parent == cache_home / "registry-monitor"
    inputs, config = pickle.loads(cache.read_bytes()[4:])  # after its CRC-32
    assert inputs == config_cache._inputs(b"node: one\n")
    assert inputs[:2] == (config_cache.FORMAT, b"node: one\n")
    assert config == Config(node="one")
    assert (cache.stat().st_mode & 0o777, cache.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    # the cache answers for these inputs: a planted Config proves it was read
    plant(cache, inputs, Config(node="from-cache"))
    assert config_cache.load(path).node == "from-cache"


def plant(cache: Path, inputs: tuple[object, ...], config: object) -> None:
    data = pickle.dumps((inputs, config))
    cache.write_bytes(binascii.crc32(data).to_bytes(4, "big") + data)


def test_the_key_names_every_module_that_reads_and_validates() -> None:
    here = Path(config_cache.config_module.__file__).parent.parent
    assert [Path(p).relative_to(here).as_posix() for p in config_cache.validating_sources()] == [
        "probe_catalog.py",
        "config/__init__.py",
        "config/file_bounds.py",
        "config/loading.py",
        "config/mount_rule.py",
        "config/rules.py",
        "config/validation.py",
        "config/yaml_source.py",
    ]
    assert [d for _, d in config_cache.VALIDATING_LIBRARIES] == ["PyYAML", "msgspec"]


def test_a_module_added_to_the_config_package_is_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is the package as a whole: validation moved into a new module cannot
    leave a cached Config standing on the old code."""
    package = tmp_path / "config"
    shutil.copytree(Path(config_cache.config_module.__file__).parent, package)
    (package / "new_rules.py").write_text("LIMIT = 1\n")
    monkeypatch.setattr(
        config_cache, "config_module", types.SimpleNamespace(__file__=str(package / "__init__.py"))
    )
    assert str(package / "new_rules.py") in config_cache.validating_sources()


@pytest.mark.parametrize("change", ["a validating module", "a library", "the host name"])
def test_a_change_of_what_validated_it_validates_again(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A Config validated before an upgrade of the code or of msgspec, or under another
    host name (the default node), is not served: the file is validated again."""
    path = tmp_path / "c.yaml"
    path.write_text("role: standby\n")
    copy = tmp_path / "config_validation.py"
    copy.write_bytes(Path(config_cache.validating_sources()[2]).read_bytes())
    sources = [
        *config_cache.validating_sources()[:2],
        str(copy),
        *config_cache.validating_sources()[3:],
    ]
    monkeypatch.setattr(config_cache, "validating_sources", lambda: sources)
    config_cache.load(path)  # cached as validated by the code and libraries of now
    cache = config_cache.cache_file(path)
    assert cache is not None
    inputs = pickle.loads(cache.read_bytes()[4:])[0]
    plant(cache, inputs, Config(node="planted", role="standby"))
    assert config_cache.load(path).node == "planted"  # the same inputs: served
    if change == "a validating module":
        copy.write_bytes(copy.read_bytes() + b"\n# the next release\n")
    elif change == "a library":
        real = provenance.library_version
        monkeypatch.setattr(
            provenance,
            "library_version",
            lambda package, dist: "msgspec-9.9.9" if package == "msgspec" else real(package, dist),
        )
    else:
        real_name = os.uname()
        renamed = os.uname_result(
            (real_name.sysname, "renamed", real_name.release, real_name.version, real_name.machine)
        )
        monkeypatch.setattr(os, "uname", lambda: renamed)
    expected = "renamed" if change == "the host name" else os.uname().nodename
    assert config_cache.load(path).node == expected


def test_any_change_to_the_file_is_read(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_cache.load(path)
    path.write_text("node: two\n")  # same size, maybe the same mtime tick
    assert config_cache.load(path).node == "two"
    path.write_text("node: [\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        config_cache.load(path)


def test_an_invalid_config_is_never_cached(tmp_path: Path, cache_home: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("nod: one\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="nod: unknown key"):
            config_cache.load(path)
    assert not (cache_home / "registry-monitor").exists()


def test_a_cache_file_others_may_write_or_garbage_is_ignored(
    tmp_path: Path, cache_home: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    config_cache.load(path)
    cache = config_cache.cache_file(path)
    assert cache is not None
    inputs = config_cache._inputs(b"node: one\n")
    plant(cache, inputs, Config(node="planted"))
    cache.chmod(0o620)
    assert config_cache.load(path).node == "one"  # and the cache is written afresh
    assert cache.stat().st_mode & 0o777 == 0o600
    for garbage in (b"\x00garbage", pickle.dumps((inputs, {"node": "not a Config"}))):
        cache.write_bytes(garbage)
        assert config_cache.load(path).node == "one"


def test_no_cache_without_a_writable_home(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("node: one\n")
    cache_home.write_text("a file where the cache directory would go")
    assert config_cache.load(path).node == "one"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME")
    assert config_cache.cache_file(path) is None
    assert config_cache.load(path).node == "one"


def test_unreadable_files_keep_their_errors(tmp_path: Path, cache_home: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        config_cache.load(tmp_path / "absent.yaml")
    assert not (cache_home / "registry-monitor").exists()


def test_a_damaged_cache_is_no_cache(tmp_path: Path, cache_home: Path) -> None:
    """Any byte changed, or the file cut: the file's own Config, never another (a byte
    changed inside a value unpickled as a Config of other values before the CRC)."""
    path = tmp_path / "c.yaml"
    path.write_text("node: one\nthresholds:\n  disk_used_percent: {warning: 80, critical: 90}\n")
    truth = config_cache.load(path)
    cache = config_cache.cache_file(path)
    assert cache is not None
    good = cache.read_bytes()
    rng = random.Random(1)
    spots = [good.index(b"one"), *(rng.randrange(len(good)) for _ in range(300))]
    damaged = [good[:at] + bytes([good[at] ^ 1]) + good[at + 1 :] for at in spots]
    damaged += [good[:cut] for cut in range(0, len(good), 97)]
    for bad in damaged:
        cache.write_bytes(bad)
        assert config_cache.load(path) == truth
        assert cache.read_bytes() == good  # validated again and rewritten
