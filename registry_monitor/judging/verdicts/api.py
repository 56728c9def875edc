"""api: /v2/ and the catalog on the backend and through nginx, canary images, latency,
and where public_url's host points.

The public name on a standby's own address is CRITICAL (pushes land there and
the next sync erases them); on an active it must point here, else WARNING
(clients reach another node; whether that is the standby or no node of the
pair takes both nodes to say, which the pair alerts do). A name that does
not resolve is a WARNING. Without `public_addresses` where it points is
shown, not judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.judging.ranges import Threshold, floor
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, ceiling_levels
from registry_monitor.probes.public_name import PublicName
from registry_monitor.probes.reading import Measured

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.anonymous_push import AnonymousPush
    from registry_monitor.probes.api import ApiStatus, EndpointStatus

UP = floor(1)  # perfdata: an up flag below 1 is a problem


def thresholds(config: Config, options: Options) -> Limits:
    why = "-w/-c are the /v2/ latency in seconds"
    return {"latency": ceiling_levels(options, "api", why, config.thresholds.api_latency_seconds)}


def count(n: int | None, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def judge_endpoint(j: VerdictBuilder, e: EndpointStatus, latency: Threshold) -> None:
    name = e.endpoint
    j.perf(f"{name}_up", int(e.up), critical=UP, minimum=0, maximum=1)
    if not e.up:
        j.add(State.CRITICAL, f"{name} {e.url}/v2/ down: {e.error}")
        return
    seconds = round(e.duration_seconds or 0.0, 6)
    j.add(
        latency.state(seconds),
        f"{name} {e.url}/v2/ answered HTTP {e.status_code} in {ms(seconds)} "
        f"{latency.explain(seconds)}".rstrip(),
    )
    j.perf(f"{name}_latency", seconds, "s", latency, 0)
    if e.catalog is not None:
        c = e.catalog
        if c.up:
            j.add(
                State.OK,
                f"{name} catalog: {count(c.repositories, 'repository', 'repositories')} "
                f"in {count(c.pages, 'page', 'pages')}",
            )
        else:
            j.add(State.CRITICAL, f"{name} catalog failed: {c.error}")
        j.perf(f"{name}_catalog_up", int(c.up), critical=UP, minimum=0, maximum=1)
        j.perf(f"{name}_repositories", c.repositories, minimum=0)
    if e.anonymous_push is not None:
        judge_anonymous_push(j, e.anonymous_push, e.url)
    for m in e.manifests:
        if m.up:
            j.add(State.OK, f"{name} canary {m.image} present ({m.digest})")
        else:
            j.add(State.WARNING, f"{name} canary {m.image} missing ({m.error})")
        j.perf(f"{name}_canary_{m.image}", int(m.up), warning=UP, minimum=0, maximum=1)


def judge_anonymous_push(j: VerdictBuilder, push: AnonymousPush, url: str) -> None:
    """Refused (401/403) is OK; accepted is CRITICAL: anyone can write to the registry."""
    if push.refused:
        j.add(State.OK, f"public {url}: anonymous push refused (HTTP {push.status_code})")
    elif push.refused is False:
        cancelled = {True: "cancelled", False: "NOT cancelled"}.get(bool(push.cancelled))
        j.add(
            State.CRITICAL,
            f"public {url}: an anonymous push was accepted (HTTP {push.status_code}; the "
            f"upload it opened {cancelled}): anyone can write to the registry; nginx's "
            "limit_except is missing",
        )
    else:
        j.add(
            State.WARNING,
            f"public {url}: cannot tell if anonymous pushes are refused: {push.error}",
        )
    j.perf(
        "anonymous_push_refused",
        None if push.refused is None else int(push.refused),
        critical=UP,
        minimum=0,
        maximum=1,
    )


def judge_public_name(j: VerdictBuilder, name: PublicName) -> None:
    role = name.role
    here = name.points_here
    if here is None:  # not told this node's addresses: shown, not judged
        j.perf("public_name_resolves", int(name.resolves), minimum=0, maximum=1)
        shown = (
            f"resolves to {', '.join(name.addresses)}"
            if name.resolves
            else f"does not resolve ({name.error})"
        )
        j.add(State.OK, f"public name {name.host} {shown} (public_addresses not set: not judged)")
        return
    j.perf("public_name_resolves", int(name.resolves), warning=UP, minimum=0, maximum=1)
    if not name.resolves:
        j.add(State.WARNING, f"public name {name.host} does not resolve: {name.error}")
        return
    answer = f"public name {name.host} resolves to {', '.join(name.addresses)}"
    j.perf("public_name_points_here", int(here), minimum=0, maximum=1)
    mine = ", ".join(name.public_addresses or ())
    if role == "active":
        if here:
            j.add(State.OK, f"{answer}: this active")
        else:
            j.add(
                State.WARNING,
                f"{answer}, not this active ({mine}): clients reach another node",
            )
    elif here:
        j.add(
            State.CRITICAL,
            f"{answer}: this {role} ({mine}); pushes land here and the next sync erases them",
        )
    else:
        j.add(State.OK, f"{answer}: not this {role}")


def judge(reading: Measured[ApiStatus], limits: Limits) -> Verdict:
    status = reading.value
    j = VerdictBuilder("api")
    for e in status.endpoints:
        judge_endpoint(j, e, limits.get("latency", Threshold()))
    if status.public_name is not None:
        judge_public_name(j, status.public_name)
    parts = [f"{e.endpoint} up in {ms(e.duration_seconds or 0)}" for e in status.endpoints]
    catalogs = [e.catalog for e in status.endpoints if e.catalog is not None]
    if catalogs:
        parts.append(count(catalogs[0].repositories, "repository", "repositories"))
    canaries = sum(len(e.manifests) for e in status.endpoints)
    if canaries:
        parts.append(f"{canaries}/{canaries} canary manifests present")
    return j.verdict(", ".join(parts))
