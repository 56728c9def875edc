"""Opening a file we read but do not fully control, without ever blocking on it.

An access log, a state file, a cache, a certificate or a file in the registry's
data directory can be replaced by a FIFO, a device or a directory (a symlink to
one left by logrotate or an operator, a planted file). A plain open() of a FIFO
without a writer blocks for good, and a probe thread stuck there is never
started again. So every such file is opened with O_NONBLOCK (a FIFO or device
open returns at once), checked by fstat to be a regular file, and only then
switched back to blocking reads. A refusal is an OSError whose strerror says
what was found instead, so callers that report `exc.strerror` need no change.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import BinaryIO

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY

_KINDS = (
    (stat.S_ISDIR, "a directory", errno.EISDIR),
    (stat.S_ISFIFO, "a FIFO", errno.EINVAL),
    (stat.S_ISCHR, "a character device", errno.EINVAL),
    (stat.S_ISBLK, "a block device", errno.EINVAL),
    (stat.S_ISSOCK, "a socket", errno.EINVAL),
)


class NotRegularFile(OSError):
    """The path names something other than a regular file (strerror says what)."""


def kind_of(mode: int) -> tuple[str, int]:
    """What a non-regular file is, in words, and the errno its refusal carries."""
    for test, words, code in _KINDS:
        if test(mode):
            return words, code
    return "not a regular file", errno.EINVAL


def refusal(path: str | os.PathLike[str], mode: int) -> NotRegularFile:
    words, code = kind_of(mode)
    return NotRegularFile(code, f"is {words}, not a regular file", os.fspath(path))


def open_fd(
    path: str | os.PathLike[str], follow: bool = True, blocking: bool = True
) -> tuple[int, os.stat_result]:
    """A blocking read-only descriptor of the regular file at path, and its fstat.

    follow=False refuses a symlink (ELOOP), for files only we write. blocking=False
    leaves O_NONBLOCK set, which reads of a regular file ignore: one system call less
    for the storage scan's many small link files. Raises OSError: the open's own, or
    NotRegularFile naming what the path is instead.
    """
    fd = os.open(path, _FLAGS if follow else _FLAGS | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refusal(path, info.st_mode)
        if blocking:  # F_SETFL changes only the status flags; none other is set
            fcntl.fcntl(fd, fcntl.F_SETFL, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def open_binary(path: str | os.PathLike[str], follow: bool = True) -> BinaryIO:
    """open_fd as an unbuffered binary file object."""
    fd, _ = open_fd(path, follow)
    return os.fdopen(fd, "rb", buffering=0)


def read_bytes(path: str | os.PathLike[str], max_bytes: int, follow: bool = True) -> bytes:
    """At most max_bytes + 1 bytes of the regular file at path (more tells the caller it
    is too large); OSError as open_fd."""
    fd, _ = open_fd(path, follow)
    with os.fdopen(fd, "rb") as file:
        return file.read(max_bytes + 1)


# A certificate chain, key or CA bundle is kilobytes (Debian's whole bundle ~220 KB)
MAX_PEM_BYTES = 16 * 1024 * 1024


def read_all(path: str | os.PathLike[str], max_bytes: int, follow: bool = True) -> bytes:
    """The whole regular file at path; OSError as open_fd, or EFBIG past max_bytes."""
    data = read_bytes(path, max_bytes, follow)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", os.fspath(path))
    return data
