"""The ASGI application: routes, error mapping, body limit, /metrics and the OpenAPI contract.

:func:`create_app` wraps a :class:`~bakeoff.service.Service`; :func:`app_from_environment` is the
factory each ``bakeoff serve --workers N`` process calls (its settings come from the environment
``bakeoff serve`` sets), so every process builds its own Router.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bakeoff import __version__
from bakeoff.contract import DatabaseUnavailable, InvalidRequest, SubmitFailed
from bakeoff.router import UnknownExperiment
from bakeoff.service import ofrep, routes
from bakeoff.service.auth import require_api_token
from bakeoff.service.http import (
    PROBLEM_MEDIA_TYPE,
    BodySizeLimit,
    HttpProblem,
    problem_openapi,
    problem_response,
)
from bakeoff.service.metrics import TrialJobsCollector
from bakeoff.service.models import ProblemField
from bakeoff.service.service import Service

__all__ = ["ENV_EXPERIMENT", "app_from_environment", "create_app", "openapi_document"]

logger = logging.getLogger(__name__)

ENV_EXPERIMENT = "BAKEOFF_SERVE_EXPERIMENT"
ENV_SUBMIT_TIMEOUT = "BAKEOFF_SERVE_SUBMIT_TIMEOUT"
TITLE = "bakeoff serve"
DESCRIPTION = (
    "The bakeoff routing shim over HTTP: route article imports to the trial's arms, read jobs and the "
    "experiment, steer it (admin), and evaluate assignments with the OpenFeature Remote Evaluation "
    "Protocol (OFREP). Errors are RFC 9457 problem details, except OFREP's own error bodies."
)
HTTP_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 406: "Not acceptable"}


def create_app(service: Service, *, owns_service: bool = False) -> FastAPI:
    """The application over ``service``; with ``owns_service`` it also closes the service on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            _flush_spans()  # uvicorn ends a SIGTERM by re-raising it, so atexit flushes would not run
            if owns_service:
                service.close()

    app = _application(lifespan=lifespan)
    app.state.service = service
    app.state.metrics = _exposition_registry(service)
    app.add_middleware(BodySizeLimit, max_bytes=service.settings.max_body_bytes)
    from bakeoff.dashboard import mount_dashboard  # the browser dashboard under /ui (docs/dashboard.md)

    mount_dashboard(app)
    return app


def _flush_spans() -> None:
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush()


def _application(lifespan: Any = None) -> FastAPI:
    """Routes, error handlers and the OpenAPI document, with no service attached."""
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(routes.router)
    app.include_router(ofrep.router)
    app.add_api_route(
        "/metrics",
        _metrics,
        methods=["GET"],
        summary="Prometheus metrics (text format)",
        tags=["health"],
        dependencies=[Depends(require_api_token)],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **problem_openapi(401, 403),
        },
    )
    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _exposition_registry(service: Service) -> CollectorRegistry:
    """What /metrics shows: the database collector, and the submit histogram of every process.

    Under ``bakeoff serve --workers N`` each process records into prometheus_client's multiprocess
    files (``PROMETHEUS_MULTIPROC_DIR``, set by the command), so any process answers a scrape with
    the sum over all of them; a single process shows its own registry.
    """
    collector = TrialJobsCollector(service.engine, experiment=service.experiment)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(collector)
        return registry
    service.telemetry.registry.register(collector)
    return service.telemetry.registry


def _metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def openapi_document() -> str:
    """The OpenAPI document as committed in ``docs/openapi.json`` (``bakeoff serve --openapi``)."""
    return json.dumps(_application().openapi(), indent=2) + "\n"


def _install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HttpProblem)
        return problem_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            ProblemField(field=".".join(str(part) for part in error["loc"]), message=error["msg"])
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return problem_response(HttpProblem(422, "invalid-request", "Invalid request", detail, errors=errors))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = HTTP_TITLES.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        return problem_response(
            HttpProblem(exc.status_code, slug, title, str(exc.detail), headers=dict(exc.headers or {}))
        )

    async def on_invalid(request: Request, exc: Exception) -> Response:
        if isinstance(exc, UnknownExperiment):
            return problem_response(HttpProblem(404, "not-found", "Not found", str(exc)))
        message = str(exc)
        field = (
            message.split(" ", 1)[0] if message.split(" ", 1)[0] in ("arm", "weights", "unit_key") else None
        )
        errors = [ProblemField(field=field, message=message)] if field else None
        return problem_response(
            HttpProblem(422, "invalid-request", "Invalid request", message, errors=errors)
        )

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, DBAPIError):
            detail = f"the database failed: {type(exc.orig).__name__ if exc.orig else type(exc).__name__}"
        return problem_response(
            HttpProblem(503, "unavailable", "Service unavailable", detail, headers={"Retry-After": "1"})
        )

    app.add_exception_handler(HttpProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(InvalidRequest, on_invalid)
    for unavailable in (SubmitFailed, DatabaseUnavailable, DBAPIError):
        app.add_exception_handler(unavailable, on_unavailable)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document with problem responses under ``application/problem+json`` (OFREP's stay JSON)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    is_problem = "application/json" in content and content["application/json"].get(
                        "schema", {}
                    ).get("$ref", "").endswith("/Problem")
                    if is_problem and not (path.startswith("/ofrep/") and status in ("400", "404")):
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        app.openapi_schema = schema
    return app.openapi_schema


def app_from_environment() -> FastAPI:
    """The factory of each ``bakeoff serve --workers N`` process (settings from the environment)."""
    from bakeoff.db import check_connection, make_engine, resolve_database_url
    from bakeoff.service.service import build_service
    from bakeoff.service.settings import ServiceSettings
    from bakeoff.service.telemetry import configure_tracing
    from bakeoff.settings import Settings

    configure_tracing()
    engine = make_engine(resolve_database_url(Settings.from_env(), None))
    check_connection(engine)
    overrides: dict[str, Any] = {"experiment": os.environ.get(ENV_EXPERIMENT, "article-import")}
    if os.environ.get(ENV_SUBMIT_TIMEOUT):
        overrides["submit_timeout"] = float(os.environ[ENV_SUBMIT_TIMEOUT])
    service = build_service(engine, ServiceSettings.from_env(**overrides))
    return create_app(service, owns_service=True)
