"""data_dir_must_be_mount: the registry's data must be on a volume of its own, mounted.

On Toolforge /srv/registry is a separate (Cinder) volume, which the registry's puppet
profile does not mount (modules/profile/manifests/toolforge/docker/registry.pp declares
only `datapath => '/srv/registry'`). If the host boots without it, docker-registry
starts on the empty directory of the root filesystem beneath, serves no images, and
the standby's next `rsync --delete` copies that emptiness (the sync guard refuses it).

The rule is judged from the mount that holds data_dir (the disk probe's mount table
reading): it fails when that mount is the root filesystem. data_dir itself or a
directory above it (/srv) may be the mount point: either holds when the volume is
mounted, and neither when it is not. Null (the default) turns it on for the
documented layout (data_dir /srv/registry) and off for any other data_dir.
"""

from __future__ import annotations

from pathlib import Path

TOOLFORGE_DATA_DIR = Path("/srv/registry")
ROOT = "/"


def required(data_dir: Path, setting: bool | None) -> bool:
    return setting if setting is not None else data_dir == TOOLFORGE_DATA_DIR


def on_own_volume(data_dir: Path, mountpoint: str, setting: bool | None) -> bool | None:
    """Whether data_dir is on a volume of its own; None when the rule is off."""
    return mountpoint != ROOT if required(data_dir, setting) else None


def unmounted_reason(path: str) -> str:
    return (
        f"{path} is on the root filesystem, not on a volume of its own: is its volume "
        "mounted? (data_dir_must_be_mount)"
    )
