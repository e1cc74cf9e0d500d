"""``bakeoff serve``: the routing shim over HTTP (FastAPI on uvicorn)."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from bakeoff.cli import CliContext, http_url, listening_socket, pass_cli
from bakeoff.router import DEFAULT_EXPERIMENT, DEFAULT_SUBMIT_TIMEOUT

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bakeoff.service.settings import ServiceSettings

__all__ = ["serve", "serve_experiment"]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8040, show_default=True, help="0: any free port."
)
@click.option(
    "--experiment", "-e", default=DEFAULT_EXPERIMENT, show_default=True, help="The experiment to route."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes (one Router each).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.01, 3600),
    default=DEFAULT_SUBMIT_TIMEOUT,
    show_default=True,
    help="The arm's submit budget in seconds (then the control arm serves).",
)
@click.option("--openapi", "print_openapi", is_flag=True, help="Print the OpenAPI document and exit.")
@click.option(
    "--guard", is_flag=True, help="Also run the guardrail every 10 minutes (bakeoff guard), in this process."
)
@pass_cli
def serve(
    cli: CliContext,
    host: str,
    port: int,
    experiment: str,
    workers: int,
    timeout: float,
    print_openapi: bool,
    guard: bool,
) -> None:
    """Serve imports, experiment state, admin switches, OFREP, /metrics and /readyz over HTTP."""
    from bakeoff.db.migrate import upgrade
    from bakeoff.service.settings import ServiceSettings
    from bakeoff.service.telemetry import configure_tracing

    if print_openapi:
        from bakeoff.service.app import openapi_document

        click.echo(openapi_document(), nl=False)
        return
    settings = ServiceSettings.from_env(experiment=experiment, submit_timeout=timeout)
    configure_tracing(install=False)  # a bad OTEL_TRACES_EXPORTER fails before the database is touched
    if host not in LOOPBACK_HOSTS and settings.api_token is None:
        click.echo(
            f"bakeoff serve: warning: binding {host} without BAKEOFF_API_TOKEN: anyone who can reach this "
            "port can route imports and read jobs",
            err=True,
        )
    engine = cli.engine()
    upgrade(engine)
    guard_stop = threading.Event()
    if guard:
        from bakeoff.guard import start_guard_thread

        start_guard_thread(engine, guard_stop)
    try:
        _run_server(cli, engine, settings, host, port, experiment, workers, timeout)
    finally:
        guard_stop.set()


def serve_experiment(
    cli: CliContext,
    engine: Engine,
    experiment: str,
    *,
    port: int,
    host: str = "127.0.0.1",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``experiment`` in this process (one worker, tokens from the environment) until Ctrl-C:
    what ``bakeoff demo --serve`` runs after its report. ``announce`` gets the base URL once bound."""
    from bakeoff.service.settings import ServiceSettings

    settings = ServiceSettings.from_env(experiment=experiment)
    _run_server(cli, engine, settings, host, port, experiment, 1, settings.submit_timeout, announce)


def _run_server(
    cli: CliContext,
    engine: Engine,
    settings: ServiceSettings,
    host: str,
    port: int,
    experiment: str,
    workers: int,
    timeout: float,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Bind, announce the URL, and serve until uvicorn returns (SIGINT or SIGTERM)."""
    import uvicorn

    from bakeoff.service.app import ENV_EXPERIMENT, ENV_SUBMIT_TIMEOUT, create_app
    from bakeoff.service.service import build_service
    from bakeoff.service.telemetry import configure_tracing

    listener = listening_socket(host, port)
    bound_port = listener.getsockname()[1]
    info = {"event": "serve_listening", "url": http_url(host, bound_port), "experiment": experiment}
    click.echo(json.dumps({**info, "workers": workers, "admin": settings.admin_token is not None}), err=True)
    if announce is not None:
        announce(info["url"])
    server_options: dict[str, Any] = {
        "fd": listener.fileno(),
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        # Each process builds its own Router from the environment; the database is the shared state.
        os.environ["BAKEOFF_DATABASE_URL"] = cli.database_url()
        os.environ[ENV_EXPERIMENT] = experiment
        os.environ[ENV_SUBMIT_TIMEOUT] = repr(timeout)
        with tempfile.TemporaryDirectory(prefix="bakeoff-serve-metrics-") as metrics_dir:
            # Each process's submit histogram goes to shared files, so every scrape sums all of them.
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
            uvicorn.run(
                "bakeoff.service.app:app_from_environment", factory=True, workers=workers, **server_options
            )
        return
    configure_tracing()
    service = build_service(engine, settings)
    uvicorn.run(create_app(service, owns_service=True), **server_options)
