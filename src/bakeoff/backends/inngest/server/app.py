"""The HTTP surface of ``bakeoff inngest serve`` (Starlette): the dev server's routes an SDK calls.

``POST /fn/register`` (sync), ``POST /e/{key}`` (events), ``GET /dev`` (the TypeScript SDK's
probe and a summary), ``GET /v0/runs/{id}/batch`` and ``/actions`` (what an SDK fetches when a
call request says ``use_api``) and ``POST /v0/gql`` (run inspection). The engine's blocking
PostgreSQL calls run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bakeoff.backends.inngest.server.core import InngestServer, Reply
from bakeoff.backends.inngest.server.gql import create_graphql

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


async def _json_body(request: Request) -> tuple[Any, JSONResponse | None]:
    raw = await request.body()
    try:
        return json.loads(raw), None
    except ValueError:
        return None, JSONResponse({"error": "the body is not valid JSON", "status": 400}, status_code=400)


def _reply(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status)


UNAUTHORIZED = JSONResponse(
    {"error": "production mode: send Authorization: Bearer <the signing key's hash>"}, status_code=401
)
REFUSED = {
    "/v0/connect": "Connect (WebSocket workers)",
    "/v1/connect": "Connect (WebSocket workers)",
    "/v1/checkpoint": "checkpointing",
    "/v1/realtime": "realtime",
    "/v1/signals": "signals",
    "/v1/ai": "the AI gateway",
}
"""Endpoints of Inngest's server this one refuses, naming the feature (501)."""


def _refusal(feature: str) -> Any:
    async def refuse(request: Request) -> JSONResponse:
        message = f"{feature} is not supported by bakeoff inngest serve"
        logger.info("refused %s %s: %s", request.method, request.url.path, message)
        return JSONResponse({"error": message, "message": message}, status_code=501)

    return refuse


class _Guarded:
    """An ASGI app behind production mode's bearer check (a class: Starlette routes it as ASGI)."""

    def __init__(self, server: InngestServer, app: Any) -> None:
        self.server, self.app = server, app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.server.authorizes(Request(scope).headers.get("authorization")):
            await UNAUTHORIZED(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(server: InngestServer) -> Starlette:
    """The ASGI app serving ``server``."""

    async def register(request: Request) -> JSONResponse:
        if not server.authorizes(request.headers.get("authorization")):
            return UNAUTHORIZED
        payload, bad = await _json_body(request)
        if bad is not None:
            return JSONResponse({"error": "the register payload is not valid JSON"}, status_code=400)
        return _reply(await run_in_threadpool(server.register, payload))

    async def send_events(request: Request) -> JSONResponse:
        if not server.accepts_event_key(request.path_params["key"]):
            return JSONResponse({"error": "unknown event key", "status": 401}, status_code=401)
        payload, bad = await _json_body(request)
        if bad is not None:
            return bad
        return _reply(await run_in_threadpool(server.send_events, payload))

    async def dev_info(request: Request) -> JSONResponse:
        return JSONResponse(server.describe())

    async def run_batch(request: Request) -> JSONResponse:
        if not server.authorizes(request.headers.get("authorization")):
            return UNAUTHORIZED
        return _reply(await run_in_threadpool(server.run_batch, request.path_params["run_id"]))

    async def run_actions(request: Request) -> JSONResponse:
        if not server.authorizes(request.headers.get("authorization")):
            return UNAUTHORIZED
        return _reply(await run_in_threadpool(server.run_actions, request.path_params["run_id"]))

    refusals = [
        Route(prefix + suffix, _refusal(feature), methods=["GET", "POST", "PUT"])
        for prefix, feature in REFUSED.items()
        for suffix in ("", "/{rest:path}")
    ]

    return Starlette(
        routes=[
            Route("/fn/register", register, methods=["POST"]),
            Route("/e/{key}", send_events, methods=["POST"]),
            Route("/dev", dev_info, methods=["GET"]),
            Route("/v0/runs/{run_id}/batch", run_batch, methods=["GET"]),
            Route("/v0/runs/{run_id}/actions", run_actions, methods=["GET"]),
            Route("/v0/gql", _Guarded(server, create_graphql(server.client)), methods=["GET", "POST"]),
            *refusals,
        ]
    )
