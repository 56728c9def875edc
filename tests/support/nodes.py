"""The config of an active node on a plain-HTTP test registry (no TLS front)."""

from __future__ import annotations

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
