"""Facts of the registry's HTTP API (distribution v2) that the probes rely on."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

API_VERSION_HEADER = "Docker-Distribution-Api-Version"
DIGEST_HEADER = "Docker-Content-Digest"
# The registry refuses to store a larger manifest (distribution's PUT limit): one served
# larger is not a manifest it holds, and is refused unread.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# Values a manifest may hold (bounded_json): a manifest list of 1000 platforms has ~10000.
MAX_MANIFEST_VALUES = 100_000

# Without every one of these, registry 2.8 answers a HEAD for a multi-arch or
# OCI image with a converted manifest's digest, or with 404 MANIFEST_UNKNOWN.
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)

_LINK_PART = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*"?([^";]+)"?""", re.IGNORECASE)


def next_link(header: str | None, request_url: str) -> str | None:
    """The absolute URL of rel="next" in a Link header, or None.

    The registry sends a relative URL (`</v2/_catalog?last=x&n=1000>;
    rel="next"`); it is resolved against the URL that was asked. A link to
    another scheme or host, or one that is not a URL at all, is refused (None):
    a catalog walk never leaves the endpoint it was pointed at.
    """
    if not header:
        return None
    for match in _LINK_PART.finditer(header):
        target, params = match.group(1).strip(), match.group(2)
        rel = _REL.search(params)
        if rel and "next" in rel.group(1).lower().split():
            try:
                absolute = urljoin(request_url, target)
                asked, got = urlsplit(request_url), urlsplit(absolute)
            except ValueError:  # `http://[zz]/`: not a URL, so not a page of this endpoint
                return None
            if (asked.scheme, asked.netloc) != (got.scheme, got.netloc):
                return None
            return str(absolute)
    return None


def split_image(image: str) -> tuple[str, str]:
    """'name:tag' or 'name@sha256:..' -> (name, reference); a bare name means 'latest'."""
    if "@" in image:
        name, _, ref = image.partition("@")
        return name, ref
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"
