"""The registry API's routes (distribution's v2 API), without repository names.

A repository name may contain slashes, so a route is recognised by what ends
the path, never by how many parts it has. Only the route becomes a label:
repository names and references would make one series per image.
"""

from __future__ import annotations

import re

ROUTES = ("base", "catalog", "tags", "manifest", "blob", "blob_upload", "other")

# group 1: catalog; 2: tags; 3: manifest; 4: blob_upload; 5: blob
_V2 = re.compile(
    r"/v2/(?:(_catalog)|[^?#]+?/(?:(tags)/list|(manifests)/[^/?#]+|(blobs)/uploads/[^/?#]*"
    r"|(blobs)/[^/?#]+))/?(?:[?#]|$)"
)
_BY_GROUP = (None, "catalog", "tags", "manifest", "blob_upload", "blob")


def route_of(path: str) -> str:
    """The route of a request target as nginx logs it (query string included)."""
    if not path.startswith("/v2"):
        return "other"
    if path in ("/v2/", "/v2") or path.startswith(("/v2/?", "/v2?")):
        return "base"
    match = _V2.match(path)
    if match is None:
        return "other"
    return _BY_GROUP[match.lastindex or 0] or "other"
