"""The HTTP surface of ``bakeoff inngest serve`` (Starlette): the dev server's routes an SDK calls.

``POST /fn/register`` (sync), ``POST /e/{key}`` (events), ``GET /dev`` (the TypeScript SDK's
probe and a summary), ``GET /v0/runs/{id}/batch`` and ``/actions`` (what an SDK fetches when a
call request says ``use_api``) and ``POST /v0/gql`` (run inspection). The engine's blocking
PostgreSQL calls run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bakeoff.backends.inngest.server.core import InngestServer, Reply
from bakeoff.backends.inngest.server.gql import create_graphql

__all__ = ["create_app"]


async def _json_body(request: Request) -> tuple[Any, JSONResponse | None]:
    raw = await request.body()
    try:
        return json.loads(raw), None
    except ValueError:
        return None, JSONResponse({"error": "the body is not valid JSON", "status": 400}, status_code=400)


def _reply(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status)


def create_app(server: InngestServer) -> Starlette:
    """The ASGI app serving ``server``."""

    async def register(request: Request) -> JSONResponse:
        payload, bad = await _json_body(request)
        if bad is not None:
            return JSONResponse({"error": "the register payload is not valid JSON"}, status_code=400)
        return _reply(await run_in_threadpool(server.register, payload))

    async def send_events(request: Request) -> JSONResponse:
        payload, bad = await _json_body(request)
        if bad is not None:
            return bad
        return _reply(await run_in_threadpool(server.send_events, payload))

    async def dev_info(request: Request) -> JSONResponse:
        return JSONResponse(server.describe())

    async def run_batch(request: Request) -> JSONResponse:
        return _reply(await run_in_threadpool(server.run_batch, request.path_params["run_id"]))

    async def run_actions(request: Request) -> JSONResponse:
        return _reply(await run_in_threadpool(server.run_actions, request.path_params["run_id"]))

    return Starlette(
        routes=[
            Route("/fn/register", register, methods=["POST"]),
            Route("/e/{key}", send_events, methods=["POST"]),
            Route("/dev", dev_info, methods=["GET"]),
            Route("/v0/runs/{run_id}/batch", run_batch, methods=["GET"]),
            Route("/v0/runs/{run_id}/actions", run_actions, methods=["GET"]),
            Route("/v0/gql", create_graphql(server.client), methods=["GET", "POST"]),
        ]
    )
