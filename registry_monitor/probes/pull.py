"""pull: each canary image pulled whole through this node's own nginx (both roles).

What `docker pull` does, as a client of `public_url` (connecting to
`public_connect` when set, so the node's own nginx answers under the public
name): the manifest with the Accept list of every media type the registry
serves, following a manifest list or OCI index to its linux/amd64 child,
then the config blob and every layer. Each body is hashed while it streams
and must match its digest (and its declared size), so this proves what the
api probe's HEAD cannot: a layer corrupt or missing on disk, nginx serving
manifests but failing on a large blob (buffering, body size, time-outs), a
blob redirected somewhere unreachable.

The bytes read per run are capped (`pull_max_bytes_per_run`): a pull the cap
cuts short is said to be cut short, neither verified nor failed. The run
starts one image further each time, so a cap that cuts the last image does
not leave it unverified forever.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from registry_monitor.base import Deadline, ProbeFailed
from registry_monitor.clients import bounded_json
from registry_monitor.clients.http import BodyCut, Client, RequestFailed, Response, redact_url
from registry_monitor.clients.registry_api import (
    DIGEST_HEADER,
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    MAX_MANIFEST_VALUES,
    split_image,
)
from registry_monitor.config import Config

INDEX_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
# Layers a registry never holds: the client fetches them from their `urls`.
FOREIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    }
)
PLATFORM = ("linux", "amd64")
CHUNK = 256 * 1024
# Redirects are followed, as docker does (a blob sent to storage elsewhere), this many.
MAX_REDIRECTS = 10


@dataclass(frozen=True, slots=True)
class ImagePull:
    """One canary image pulled: its manifests and blobs read and verified."""

    image: str
    endpoint: str  # "public": through nginx, as clients pull
    up: bool  # every digest read and verified
    duration_seconds: float
    bytes: int  # bytes read for this image in this run (manifests and blobs)
    manifest_digest: str | None  # what the tag points at
    platform_digest: str | None  # the linux/amd64 child, when the tag is an index
    blobs_verified: int
    blobs_total: int  # config + layers of the (platform) manifest; 0 if never read
    cut_short: bool = False  # the run's byte cap stopped it: the rest is not verified
    error: str | None = None  # what failed; None when up or only cut short
    tag_missing: bool = False  # the canary tag itself answered 404 (the api probe says so too)

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class PullStatus:
    """Every canary image pulled in one run, within the run's byte cap."""

    url: str
    cap_bytes: int
    bytes_total: int
    images: tuple[ImagePull, ...]

    @property
    def failing(self) -> tuple[ImagePull, ...]:
        return tuple(i for i in self.images if i.failed)


class _CapReached(Exception):
    """The run's byte budget is spent: stop this pull, say so, do not fail it."""


class _PullFailed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Budget:
    """The bytes a run may still read."""

    cap: int
    spent: int = 0

    @property
    def spent_out(self) -> bool:
        return self.spent >= self.cap

    def spend(self, n: int) -> None:
        self.spent += n
        if self.spent > self.cap:
            raise _CapReached


def short(digest: str) -> str:
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}"


def _sha256(digest: object) -> str | None:
    """The hex of a `sha256:<64 hex>` digest, or None for anything else."""
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        return None
    hex_part = digest[7:]
    if len(hex_part) != 64 or any(c not in "0123456789abcdef" for c in hex_part):
        return None
    return hex_part


def _descriptor(entry: object, what: str) -> tuple[str, int | None]:
    if not isinstance(entry, dict) or _sha256(entry.get("digest")) is None:
        raise _PullFailed(f"{what}: no sha256 digest in the manifest")
    size = entry.get("size")
    return str(entry["digest"]), size if isinstance(size, int) and size >= 0 else None


def pick_platform(index: dict[str, Any]) -> str:
    """The digest of the linux/amd64 child of a manifest list or OCI index."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise _PullFailed("the index's manifests is not a list")
    for entry in entries:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if isinstance(platform, dict) and (platform.get("os"), platform.get("architecture")) == (
            PLATFORM
        ):
            digest, _ = _descriptor(entry, "linux/amd64 entry")
            return digest
    raise _PullFailed("the index has no linux/amd64 manifest")


class PullProbe:
    name = "pull"

    def __init__(self, config: Config) -> None:
        self.base = config.public_url
        self.shown = redact_url(config.public_url)
        self.images = config.canary_images
        self.cap = config.pull_max_bytes_per_run
        # never more than the registry itself would store (nor than max_body_bytes)
        self.max_manifest = min(config.max_body_bytes, MAX_MANIFEST_BYTES)
        public_host = urlsplit(config.public_url).hostname or ""
        pin = (public_host, config.public_connect) if config.public_connect else None
        self.client = Client(config.ca_file, pin)
        self.runs = 0

    def __call__(self, deadline: Deadline) -> PullStatus:
        budget = _Budget(self.cap)
        start = self.runs % len(self.images) if self.images else 0
        self.runs += 1
        order = self.images[start:] + self.images[:start]
        pulled = {image: self.pull(image, budget, deadline) for image in order}
        return PullStatus(
            url=self.shown,
            cap_bytes=self.cap,
            bytes_total=budget.spent,
            images=tuple(pulled[image] for image in self.images),  # in the config's order
        )

    def pull(self, image: str, budget: _Budget, deadline: Deadline) -> ImagePull:
        begin = time.monotonic()
        before = budget.spent
        state: dict[str, Any] = {"manifest": None, "platform": None, "verified": 0, "total": 0}

        def result(
            up: bool, cut: bool = False, error: str | None = None, tag_missing: bool = False
        ) -> ImagePull:
            return ImagePull(
                image=image,
                endpoint="public",
                up=up,
                duration_seconds=time.monotonic() - begin,
                bytes=budget.spent - before,
                manifest_digest=state["manifest"],
                platform_digest=state["platform"],
                blobs_verified=state["verified"],
                blobs_total=state["total"],
                cut_short=cut,
                error=error,
                tag_missing=tag_missing,
            )

        name, reference = split_image(image)
        if budget.spent_out:
            return result(False, cut=True)
        try:
            digest, manifest = self.manifest(name, reference, budget, deadline)
            state["manifest"] = digest
            media = manifest.get("mediaType")
            if media in INDEX_TYPES or (media is None and "manifests" in manifest):
                child = pick_platform(manifest)
                state["platform"] = child
                _, manifest = self.manifest(name, child, budget, deadline)
            if manifest.get("schemaVersion") != 2 or "layers" not in manifest:
                raise _PullFailed("not a schema 2 image manifest (schema 1 is not pulled)")
            blobs = [_descriptor(manifest.get("config"), "config")]
            layers = manifest.get("layers")
            if not isinstance(layers, list):
                raise _PullFailed("the manifest's layers is not a list")
            for n, layer in enumerate(layers, 1):
                if isinstance(layer, dict) and layer.get("mediaType") in FOREIGN_LAYER_TYPES:
                    continue  # fetched from elsewhere by clients; not this registry's
                blobs.append(_descriptor(layer, f"layer {n}"))
            state["total"] = len(blobs)
            for n, (blob, size) in enumerate(blobs):
                what = "config" if n == 0 else f"layer {n}/{len(blobs) - 1}"
                self.blob(name, blob, size, what, budget, deadline)
                state["verified"] += 1
        except _CapReached:
            return result(False, cut=True)
        except _PullFailed as exc:
            missing = state["manifest"] is None and exc.status == 404
            return result(False, error=str(exc), tag_missing=missing)
        except Exception as exc:  # a manifest no registry sends fails its image, not the run
            return result(False, error=f"{type(exc).__name__}: {str(exc)[:200]}")
        return result(True)

    def _get(self, url: str, what: str, deadline: Deadline, accept: str = "*/*") -> Response:
        if deadline.expired():
            raise _PullFailed(f"{what}: not started before the probe's deadline")
        try:
            resp = self.client.get(
                url,
                headers={"Accept": accept},
                timeout=deadline.io_timeout(),
                redirects=MAX_REDIRECTS,
            )
        except RequestFailed as exc:
            raise _PullFailed(f"{what}: {exc}") from None
        if resp.status != 200:
            resp.close()
            reason = "not found" if resp.status == 404 else f"HTTP {resp.status}"
            raise _PullFailed(f"{what}: {reason}", resp.status)
        return resp

    def manifest(
        self, name: str, reference: str, budget: _Budget, deadline: Deadline
    ) -> tuple[str, dict[str, Any]]:
        what = f"manifest {short(reference) if ':' in reference else reference}"
        url = f"{self.base}/v2/{quote(name, safe='/')}/manifests/{quote(reference, safe=':')}"
        resp = self._get(url, what, deadline, accept=MANIFEST_ACCEPT)
        try:
            body = resp.read_capped(self.max_manifest, deadline)
        except ProbeFailed as exc:
            cap = " (the registry stores none larger)" if "byte cap" in str(exc) else ""
            raise _PullFailed(f"{what}: {exc}{cap}") from None
        except RequestFailed as exc:
            raise _PullFailed(f"{what}: {exc}") from None
        budget.spend(len(body))
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if _sha256(reference) else resp.headers.get(DIGEST_HEADER)
        if expected is not None and expected != actual:
            raise _PullFailed(f"{what}: digest mismatch, got {short(actual)}")
        try:
            doc = bounded_json.loads(
                body, max_bytes=self.max_manifest, max_values=MAX_MANIFEST_VALUES
            )
        except bounded_json.JsonRefused as exc:
            raise _PullFailed(f"{what}: {exc}") from None
        if not isinstance(doc, dict):
            raise _PullFailed(f"{what}: not a JSON object")
        if "mediaType" not in doc:
            doc["mediaType"] = resp.headers.get("Content-Type", "").split(";")[0].strip() or None
        return actual, doc

    def blob(
        self,
        name: str,
        digest: str,
        size: int | None,
        what: str,
        budget: _Budget,
        deadline: Deadline,
    ) -> None:
        what = f"{what} {short(digest)}"
        url = f"{self.base}/v2/{quote(name, safe='/')}/blobs/{digest}"
        # A blob redirected to unreachable storage fails here.
        resp = self._get(url, what, deadline)
        hasher = hashlib.sha256()
        read = 0
        with resp:
            try:
                for chunk in resp.iter_chunks(CHUNK):
                    budget.spend(len(chunk))
                    read += len(chunk)
                    if size is not None and read > size:
                        raise _PullFailed(f"{what}: longer than the {size} bytes declared")
                    hasher.update(chunk)
                    if deadline.expired():
                        raise _PullFailed(f"{what}: still arriving at the probe's deadline")
            except BodyCut:
                # nginx gave up mid-body (a temp file it cannot write, a proxy time-out)
                ended = f" short of its {size} bytes" if size is not None else " early"
                raise _PullFailed(f"{what}: connection broken, the body ended{ended}") from None
            except RequestFailed as exc:
                raise _PullFailed(f"{what}: {exc} after {read} bytes") from None
        if size is not None and read != size:
            raise _PullFailed(f"{what}: {read} of {size} bytes arrived")
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            raise _PullFailed(f"{what}: digest mismatch, got {short(actual)}")
