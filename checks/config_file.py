"""The config file as check_registry reads it: its parsed YAML remembered between runs.

Icinga runs the check once a minute per probe, and a run that parses YAML
imports PyYAML first (about 15 ms, a sixth of a disk check) for a small file
that seldom changes. So the parsed document is kept in a cache file of the
user's own (`$XDG_CACHE_HOME` or `~/.cache`, `registry-monitor/`), in marshal
form (built in, nothing to import), with the exact bytes it was parsed from.
A run whose config file holds the same bytes takes the document from there;
any other parses the file. Comparing the bytes, not time stamps, makes the
cache exact: no clock tick, copy or rsync can make it serve a stale document.
Validation runs on every run, cached document or not.

A cache file is trusted only when this user owns it and nobody else may
write it; anything wrong with it (absent, foreign, garbled, unwritable
directory) means parsing the YAML, as without a cache.
"""

from __future__ import annotations

import marshal
import os
import stat
from pathlib import Path
from urllib.parse import quote

from registry_monitor.config import (
    Config,
    load_config,
    parse_document,
    parse_file_document,
    read_bytes,
)

FORMAT = 1


def cache_file(config_path: Path) -> Path | None:
    xdg, home = os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME")
    base = Path(xdg) if xdg else Path(home) / ".cache" if home else None
    if base is None:
        return None
    name = quote(str(config_path.absolute()), safe="")
    return base / "registry-monitor" / f"config-{name}.marshal"


def _cached(cache: Path, raw: bytes) -> tuple[object] | None:
    """(the document parsed from `raw`,) if the cache holds it; else None."""
    try:
        fd = os.open(cache, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not stat.S_ISREG(st.st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            entry = marshal.load(f)  # noqa: S302 - our own file, checked above
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        os.close(fd)
    if isinstance(entry, tuple) and len(entry) == 3 and entry[:2] == (FORMAT, raw):
        return (entry[2],)  # wrapped: a document may itself be None (an empty file)
    return None


def _remember(cache: Path, raw: bytes, document: object) -> None:
    try:
        data = marshal.dumps((FORMAT, raw, document))  # type: ignore[arg-type]
    except ValueError:
        return  # a value marshal cannot hold (a YAML date, say): parse every time
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.replace(cache)
    except OSError:
        pass  # no cache then; the next run parses again


def load(path: Path | None) -> Config:
    """As registry_monitor.config.load_config (same errors), with the parse cached."""
    cache = cache_file(path) if path is not None else None
    if path is None or cache is None:
        return load_config(path)
    raw = read_bytes(path)  # the same bounds and errors as load_config
    hit = _cached(cache, raw)
    if hit is not None:
        document = hit[0]
    else:
        document = parse_document(raw, path)
        _remember(cache, raw, document)
    return parse_file_document(document, path)
