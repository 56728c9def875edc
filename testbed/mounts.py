"""Small real filesystems (tmpfs) for disk tests: read-only, or tiny enough to fill."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def can_mount() -> str | None:
    """None if tmpfs mounts are possible here, else the reason they are not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    return None


@contextlib.contextmanager
def tmpfs(
    path: Path, size: str = "4m", readonly: bool = False, inodes: int | None = None
) -> Iterator[Path]:
    """Mount a tmpfs at path for the block's duration; unmounted even when the block fails."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if readonly else "")
    if inodes is not None:
        options += f",nr_inodes={inodes}"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"cannot mount tmpfs at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
