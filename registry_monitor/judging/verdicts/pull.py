"""pull: each canary image pulled whole through nginx, every digest verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import floor
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder, unknown
from registry_monitor.judging.verdicts import Limits, refuse
from registry_monitor.probes.reading import Measured

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.pull import ImagePull, PullStatus

UP = floor(1)


def thresholds(config: Config, options: Options) -> Limits:
    refuse(options, "pull", "it has no thresholds: a pull verifies or it fails")
    return {}


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def judge_image(j: VerdictBuilder, status: PullStatus, i: ImagePull) -> None:
    child = f" (linux/amd64 {i.platform_digest})" if i.platform_digest else ""
    if i.up:
        j.add(
            State.OK,
            f"{i.image}{child}: manifest and {i.blobs_verified} blobs verified, "
            f"{mib(i.bytes)} in {i.duration_seconds:.2f} s",
        )
    elif i.tag_missing:  # the canary itself is gone: the api probe's WARNING, said again
        j.add(State.WARNING, f"canary {i.image} not pulled: {i.error}")
    elif i.failed:
        j.add(State.CRITICAL, f"pull of {i.image} through {status.url} failed: {i.error}")
    else:
        j.add(
            State.WARNING,
            f"pull of {i.image} cut short by pull_max_bytes_per_run ({mib(status.cap_bytes)}) "
            f"after {i.blobs_verified} of {i.blobs_total or '?'} blobs: the rest not verified",
        )
    j.perf(f"{i.image}_up", int(i.up), critical=UP, minimum=0, maximum=1)
    j.perf(f"{i.image}_bytes", i.bytes, "B", minimum=0)
    j.perf(f"{i.image}_duration", round(i.duration_seconds, 6), "s", minimum=0)


def judge(reading: Measured[PullStatus], limits: Limits) -> Verdict:
    status = reading.value
    if not status.images:
        return unknown("pull", "no canary_images configured: nothing to pull")
    j = VerdictBuilder("pull")
    for image in status.images:
        judge_image(j, status, image)
    return j.verdict(
        f"{len(status.images)}/{len(status.images)} canary images pulled through "
        f"{status.url}, every digest verified ({mib(status.bytes_total)})"
    )
