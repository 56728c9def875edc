"""Reading a config file into a Config: bounded file read, YAML, validation, each error
naming the file (the model is config/__init__.py, validation config/validation.py)."""

from __future__ import annotations

from pathlib import Path

from registry_monitor.config import Config, ConfigError
from registry_monitor.config.file_bounds import ConfigFileError, read_config_bytes


def read_bytes(path: Path) -> bytes:
    """The config file's bytes (a regular file, within MAX_CONFIG_BYTES), or ConfigError."""
    try:
        return read_config_bytes(path)
    except ConfigFileError as exc:
        raise ConfigError(f"{path}: cannot use config file: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; None means all defaults."""
    if path is None:
        return Config()
    from registry_monitor.config.validation import parse_document, parse_file_document

    return parse_file_document(parse_document(read_bytes(path), path), path)
