"""A Debian bookworm tree with systemd and the registry's packages, for booting real hosts.

Built once with debootstrap (as root, from Debian's mirror) and kept in a cache directory
outside the repository, keyed by everything that decides its content (suite, mirror,
package list): later runs reuse it, a change of the list builds a new one. Every host
boots from its own writable layer over it (`layered_over`), so no test sees another's changes.

The packages are installed into the cached tree rather than in each container: the
containers' network is private (never the outside), and the project's .deb then needs
nothing apt would have to fetch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CACHE = Path(os.environ.get("REGISTRY_MONITOR_TEST_CACHE", "/var/cache/registry-monitor-tests"))
SUITE = "bookworm"
MIRROR = os.environ.get("REGISTRY_MONITOR_TEST_MIRROR", "http://deb.debian.org/debian")
# systemd as PID 1 with D-Bus; the daemons puppet runs on the registry hosts; what the
# project's package depends on (python3, adduser); acl for the documented read grants.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "docker-registry",
    "nginx-light",
    "rsync",
    "python3",
    "adduser",
    "acl",
)
TOOLS = ("debootstrap", "systemd-nspawn", "nsenter", "ip")
BUILD_TIMEOUT = 1800  # a slow mirror; the build happens once per package list


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def key(packages: tuple[str, ...] = PACKAGES) -> str:
    text = "\n".join((SUITE, MIRROR, *sorted(packages)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per tree (two test runs on one machine share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached_tree(packages: tuple[str, ...] = PACKAGES) -> Path:
    """The cached tree for these packages, built first if there is none (root only)."""
    tree = CACHE / f"{SUITE}-{key(packages)}"
    with _locked(CACHE / f".{tree.name}.lock"):
        if (tree / ".complete").exists():
            return tree
        building = CACHE / f".{tree.name}.building"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        run = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                SUITE,
                str(building),
                MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if run.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            tail = "\n".join((run.stdout + run.stderr).splitlines()[-20:])
            raise RuntimeError(f"debootstrap exited {run.returncode}:\n{tail}")
        # the packages' postinst enabled their services (systemctl works offline in a
        # chroot); apt's downloads are not needed again
        shutil.rmtree(building / "var/cache/apt/archives", ignore_errors=True)
        (building / "var/cache/apt/archives/partial").mkdir(parents=True)
        (building / ".complete").write_text(f"{time.monotonic() - started:.0f} s to build\n")
        building.rename(tree)
        return tree


def copy_of(tree: Path, dest: Path) -> Path:
    """A host's own copy of the tree (reflinked where the filesystem can)."""
    subprocess.run(["cp", "-a", "--reflink=auto", str(tree), str(dest)], check=True, timeout=600)
    return dest


def layered_over(tree: Path, dest: Path) -> Path:
    """A host's own writable tree at dest: an overlay whose upper layer beside it holds only
    what the host changes, so a host costs the temporary directory megabytes, not the
    tree's hundreds (a nearly full /tmp must not fail the tests). The cached tree, the
    lower layer, is never written. A full copy where overlayfs cannot be mounted."""
    upper, work = dest.with_name(dest.name + ".upper"), dest.with_name(dest.name + ".work")
    for path in (upper, work, dest):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={tree},upperdir={upper},workdir={work}"
    mounted = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(dest)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if mounted.returncode != 0:
        for path in (upper, work, dest):
            path.rmdir()
        return copy_of(tree, dest)
    return dest


def remove_tree(dest: Path) -> None:
    """Unmount a layered tree (if it is one) and remove what the host wrote."""
    if os.path.ismount(dest):
        subprocess.run(["umount", "--lazy", str(dest)], check=False, timeout=60)
    for path in (dest, dest.with_name(dest.name + ".upper"), dest.with_name(dest.name + ".work")):
        if path.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
