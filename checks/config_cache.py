"""The config file as check_registry reads it: its validated Config remembered between runs.

Icinga runs the check once a minute per probe, and a run that parses and
validates imports PyYAML and msgspec first (about 45 ms together, as much as
the rest of a disk check) for a small file that seldom changes. So the
validated Config is kept in a cache file of the user's own (`$XDG_CACHE_HOME`
or `~/.cache`, `registry-monitor/`), pickled, beside everything it was
validated from: the config file's exact bytes, the source of the modules that
read, define and check a Config, the versions of PyYAML, msgspec, Python and
this program (registry_monitor/files/provenance.py), and the host name (the
default `node`). A run whose inputs are all the same takes the Config from
there; any other parses and validates the file. Comparing bytes, not time
stamps, makes the cache exact: no clock tick, copy, rsync or upgrade can make
it serve a stale Config.

A cache file is trusted only when this user owns it and nobody else may
write it, and its pickle only after the CRC-32 before it (a changed byte
could otherwise unpickle as another Config); anything wrong with it (absent,
foreign, garbled, unwritable directory) means parsing the YAML, as without a
cache.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from urllib.parse import quote

from registry_monitor import config as config_module
from registry_monitor import probe_catalog
from registry_monitor.config import MAX_CONFIG_BYTES, Config
from registry_monitor.config.loading import load_config, read_bytes
from registry_monitor.files import private_file, provenance

FORMAT = 3  # 3: the pickle after its CRC-32


def validating_sources() -> list[str]:
    """The project's modules a validated Config follows from: the catalog its types are
    built from, and the whole config package (types, rules, validation, file and YAML
    reading), so that a module added to the package is in the key without a word here."""
    package = Path(config_module.__file__).parent
    return [probe_catalog.__file__, *sorted(str(path) for path in package.glob("*.py"))]


# The libraries that parse and validate: (package, distribution)
VALIDATING_LIBRARIES = [("yaml", "PyYAML"), ("msgspec", "msgspec")]


def _inputs(raw: bytes) -> tuple[object, ...]:
    """Everything a validated Config follows from, to compare with what made the cached one:
    the file's bytes, the code and libraries that read it, and the host name (the default
    node)."""
    code = provenance.identity(validating_sources(), VALIDATING_LIBRARIES)
    return (FORMAT, raw, *code, os.uname().nodename)


def cache_dir() -> Path | None:
    """This user's cache directory of check_registry, or None without XDG_CACHE_HOME or HOME."""
    xdg, home = os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME")
    base = Path(xdg) if xdg else Path(home) / ".cache" if home else None
    return None if base is None else base / "registry-monitor"


def cache_file(config_path: Path) -> Path | None:
    base = cache_dir()
    if base is None:
        return None
    name = quote(str(config_path.absolute()), safe="")
    return base / f"config-{name}.pickle"


# The cache holds the config file's bytes (at most MAX_CONFIG_BYTES), the sources it
# was validated by and the Config: anything past this is not one of ours.
MAX_CACHE_BYTES = 4 * MAX_CONFIG_BYTES


def _sealed(data: bytes) -> bytes:
    """data after its CRC-32: a changed byte or a cut is seen before unpickling (a byte
    changed inside a value can still unpickle, as another Config)."""
    # CRC-32 (corruption, not forgery: private_file checks who wrote it), binascii's:
    # zlib and hashlib stay out of the local checks (tests/test_imports.py)
    import binascii

    return binascii.crc32(data).to_bytes(4, "big") + data


def _unsealed(data: bytes) -> bytes | None:
    return data[4:] if len(data) >= 4 and _sealed(data[4:])[:4] == data[:4] else None


def _cached(cache: Path, inputs: tuple[object, ...]) -> Config | None:
    """The Config validated from `inputs`, if the cache holds it; else None."""
    data = private_file.read(cache, MAX_CACHE_BYTES)
    body = None if data is None else _unsealed(data)
    if body is None:
        return None
    try:
        entry = pickle.loads(body)  # noqa: S301 - ours, private_file checked who wrote it
    except Exception:  # garbled or from another version: as if there were none
        return None
    if (
        isinstance(entry, tuple)
        and len(entry) == 2
        and entry[0] == inputs
        and isinstance(entry[1], Config)
    ):
        return entry[1]
    return None


def _remember(cache: Path, inputs: tuple[object, ...], config: Config) -> None:
    # if writing fails, there is no cache: the next run validates again
    data = pickle.dumps((inputs, config), protocol=pickle.HIGHEST_PROTOCOL)
    private_file.write(cache, _sealed(data))


def load(path: Path | None) -> Config:
    """As registry_monitor.config.loading.load_config (same errors), with the result cached."""
    cache = cache_file(path) if path is not None else None
    if path is None or cache is None:
        return load_config(path)
    raw = read_bytes(path)  # the same bounds and errors as load_config
    inputs = _inputs(raw)
    config = _cached(cache, inputs)
    if config is None:
        from registry_monitor.config.validation import parse_document, parse_file_document

        config = parse_file_document(parse_document(raw, path), path)
        _remember(cache, inputs, config)
    return config
