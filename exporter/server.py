"""The exporter's HTTP face: /metrics, /healthz, /api/status and the status page."""

from __future__ import annotations

import gzip
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Receive, Scope, Send

from exporter import status_page
from exporter.inventory_api import inventory_response
from exporter.metrics import ReadingsCollector, build_registry
from exporter.node_status import RequestJudge
from exporter.parity_api import parity_response
from exporter.scheduler import Scheduler
from registry_monitor import __version__
from registry_monitor.config import Config
from registry_monitor.judging.jsonable import jsonable

MAX_REQUEST_BODY_BYTES = 64 * 1024


class RefuseLargeBodies:
    """413 for a declared body above the cap: no endpoint reads one, none may be pushed at us.

    Pure ASGI, so /metrics pays nothing for it; chunked bodies are never read at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and (
                    not value.isdigit() or int(value) > MAX_REQUEST_BODY_BYTES
                ):
                    response = JSONResponse({"detail": "request body too large"}, 413)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(config: Config, scheduler: Scheduler, intervals: dict[str, float]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()

    app = FastAPI(
        title="registry-monitor exporter",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        # Its redirect to the slash-less path takes the Host header as given:
        # /api/status/ with Host: evil.example pointed at evil.example.
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.add_middleware(RefuseLargeBodies)
    registry = build_registry(ReadingsCollector(config, scheduler.probe_names, scheduler.readings))
    judge = RequestJudge(config, scheduler.probe_names)

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        """With api_token set, /api/* needs `Authorization: Bearer <token>` (the scheme in
        any case, RFC 9110; the token compared in constant time)."""
        if config.api_token is None:
            return
        scheme, _, given = (authorization or "").strip().partition(" ")
        given = given.strip()
        matches = hmac.compare_digest(given.encode(), config.api_token.encode())
        if scheme.lower() != "bearer" or not given or " " in given or not matches:
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics (cached readings)")
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = encoder(registry)
        headers = {}
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=content_type, headers=headers)

    @app.get("/healthz", summary="200 while every probe loop is alive")
    async def healthz() -> JSONResponse:
        alive = scheduler.alive()
        return JSONResponse(
            {"status": "ok" if alive else "scheduler stopped"}, 200 if alive else 503
        )

    @app.get(
        "/api/status",
        dependencies=[Depends(require_token)],
        summary="Every probe's last reading and its verdict; the node's overall state",
    )
    async def api_status() -> dict[str, Any]:
        readings = scheduler.readings()
        node = judge(readings, intervals)
        probes = []
        for p in node.probes:
            r = p.reading
            entry: dict[str, Any] = {
                "probe": p.name,
                "interval_seconds": p.interval_seconds,
                "state": p.verdict.state.name,
                "summary": p.summary,
                "reasons": p.reasons,
            }
            if r is None:
                entry.update(ok=None, error="not run yet")
            else:
                entry.update(
                    ok=r.ok,
                    error=r.error,
                    started_at=r.started_at,
                    age_seconds=round(node.judged_at - r.started_at, 3),
                    duration_seconds=round(r.duration_seconds, 6),
                    value=jsonable(r.value),
                )
            probes.append(entry)
        return {
            "node": config.node,
            "role": config.role,
            "version": __version__,
            "state": node.state.name,
            "summary": node.summary,
            # on the standby: could it take over now, what it would lose, what blocks it
            "failover": None if node.failover is None else node.failover.json(),
            "probes": probes,
        }

    @app.get(
        "/api/inventory",
        dependencies=[Depends(require_token)],
        response_class=Response,
        summary="This node's stored content, from the last storage scan (for the standby)",
    )
    async def api_inventory(request: Request) -> Response:
        return inventory_response(scheduler.readings().get("storage"), request.headers)

    @app.get(
        "/api/parity",
        dependencies=[Depends(require_token)],
        summary="This node described by keyed digests only, for the standby's parity check",
        responses={403: {"description": "not served: no api_token is set"}},
    )
    async def api_parity() -> JSONResponse:
        return parity_response(scheduler.readings(), config.api_token is not None)

    @app.get("/", response_class=HTMLResponse, summary="Status page for people")
    async def index() -> HTMLResponse:
        node = judge(scheduler.readings(), intervals)
        return HTMLResponse(status_page.render(config, node), headers={"Cache-Control": "no-store"})

    return app
