"""The dashboard: watch the trial and debug any job of any arm in the browser, under ``/ui``.

:func:`mount_dashboard` adds it to ``bakeoff serve``'s application: server-rendered pages
(``views``), the reads behind them (``store``, ``queries.sql``), the overview's statistics
(``overview``), token and CSRF checks (``access``), and the vendored htmx and uPlot (``static/``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from bakeoff.dashboard import admin_views, filters
from bakeoff.dashboard.store import DashboardStore
from bakeoff.dashboard.views import NotAllowed, login_redirect, router, templates

__all__ = ["mount_dashboard"]

del admin_views  # imported for its routes, which it adds to the views' router

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app`` (which holds the Service in ``app.state.service``)."""
    app.state.dashboard_store = DashboardStore(app.state.service.engine)
    filters.install(templates.env)
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="dashboard-static")

    async def on_not_allowed(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    app.add_exception_handler(NotAllowed, on_not_allowed)
