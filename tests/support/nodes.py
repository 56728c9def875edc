"""The config of an active node on a plain-HTTP test registry (no TLS front)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.registry import Registry, node_config

NODE = "tools-docker-registry-03"
CANARY = "toolforge-base:latest"


def base_config(registry: Registry, **extra: Any) -> dict[str, Any]:
    return node_config(
        NODE, "active", registry.data_dir, registry.url, **{"canary_images": [CANARY], **extra}
    )


def quiet_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """A node whose probes all fail fast (nothing listens): only the web face matters."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return node_config(NODE, "active", data, "http://127.0.0.1:9", **{"canary_images": [], **extra})
