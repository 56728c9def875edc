"""Reading a config file that may be a typo or a bad template: bounded in time and size.

A FIFO or a device never blocks the read (only regular files are read, at
most MAX_CONFIG_BYTES). Every refusal is one short ValueError sentence. The
YAML's own bounds are in config/yaml_source.py, which only a run that parses loads
(check_registry mostly reuses the document it cached: checks/config_cache.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from registry_monitor.files import regular_file

MAX_CONFIG_BYTES = 1024 * 1024


class ConfigFileError(ValueError):
    """The file cannot be read as a config; the message is one short sentence."""


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of at most MAX_CONFIG_BYTES."""
    try:
        fd, info = regular_file.open_fd(path)
    except regular_file.NotRegularFile as exc:
        raise ConfigFileError(exc.strerror) from None
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes ({info.st_size})")
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes")
    return data
