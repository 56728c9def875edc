"""Reading a config file that may be a typo or a bad template: bounded in time and size.

A FIFO or a device never blocks the read (only regular files are read, at
most MAX_CONFIG_BYTES). Every refusal is one short ValueError sentence. The
YAML's own bounds are in config_yaml.py, which only a run that parses loads
(check_registry mostly reuses the document it cached: checks/config_file.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1024 * 1024


class ConfigFileError(ValueError):
    """The file cannot be read as a config; the message is one short sentence."""


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of at most MAX_CONFIG_BYTES."""
    # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigFileError("not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes ({info.st_size})")
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes")
    return data
