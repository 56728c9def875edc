"""What a kept result was computed by: the code's bytes and the installed libraries' versions.

check_registry keeps results between runs (the validated config, certificates'
fields) to skip the imports that compute them. A kept result is reused only
when everything it follows from is the same, this included: the source of the
project's modules that compute it, the versions of the libraries they use,
the interpreter's version and the project's. None of it imports those
libraries: a library's version is read from its `*.dist-info` directory name
beside it on sys.path.
"""

from __future__ import annotations

import os
import sys

from registry_monitor import __version__


def source(path: str) -> bytes:
    """A module's source, b"" if there is none to read (compared as such)."""
    try:
        with open(path, "rb") as file:  # noqa: PTH123 - pathlib is not needed here
            return file.read()
    except OSError:
        return b""


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def library_version(package: str, distribution: str) -> str:
    """The installed version of `distribution`, found beside the first `package` on sys.path,
    or "" if none is found."""
    wanted = _normal(distribution)
    for entry in sys.path:
        if not entry or not os.path.isdir(os.path.join(entry, package)):  # noqa: PTH112, PTH118
            continue
        try:
            names = os.listdir(entry)  # noqa: PTH208 - names only, no Path objects
        except OSError:
            return ""
        found = [
            n[: -len(".dist-info")]
            for n in names
            if n.endswith(".dist-info") and _normal(n.split("-", 1)[0]) == wanted
        ]
        return ",".join(sorted(found))
    return ""


def identity(sources: list[str], libraries: list[tuple[str, str]]) -> tuple[object, ...]:
    """Everything named: the interpreter's and the project's versions, each source file's
    bytes, each (package, distribution)'s installed version."""
    return (
        sys.version,
        __version__,
        *(source(path) for path in sources),
        *(library_version(package, dist) for package, dist in libraries),
    )
