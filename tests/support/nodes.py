"""The config of an active node on a plain-HTTP test registry (no TLS front)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.registry import Registry

CANARY = "toolforge-base:latest"


def base_config(registry: Registry, **extra: Any) -> dict[str, Any]:
    return {
        "node": "tools-docker-registry-03",
        "role": "active",
        "data_dir": str(registry.data_dir),
        "backend_url": registry.url,
        "public_url": registry.url,
        "cert_file": None,
        "canary_images": [CANARY],
        **extra,
    }


def quiet_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """A node whose probes all fail fast (nothing listens): only the web face matters."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {
        "node": "tools-docker-registry-03",
        "role": "active",
        "data_dir": str(data),
        "backend_url": "http://127.0.0.1:9",
        "public_url": "http://127.0.0.1:9",
        "cert_file": None,
        "canary_images": [],
        **extra,
    }
