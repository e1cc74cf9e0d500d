"""``bakeoff serve``: the routing shim over HTTP, for applications that cannot import the Router.

One ASGI application (FastAPI on uvicorn) per process, with one :class:`~bakeoff.router.Router`
over the arms built as ``bakeoff worker`` builds them:

- ``POST /v1/imports``, ``GET /v1/imports/{id}``: route an import, read its lifecycle;
- ``GET /v1/experiments/{name}`` and the admin switches (kill, revive, weights, overrides);
- OFREP (``/ofrep/v1/evaluate/flags``): assignments for any OpenFeature SDK, writing nothing;
- ``/healthz``, ``/readyz``, ``/metrics`` (read from ``bakeoff.trial_jobs`` per scrape), and
  OpenTelemetry spans per submit.

``docs/service.md`` is the guide; ``docs/openapi.json`` is the contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeoff._lazy import lazy_attributes

if TYPE_CHECKING:
    from bakeoff.service.app import create_app
    from bakeoff.service.service import Service, build_service
    from bakeoff.service.settings import ServiceSettings

__all__ = ["Service", "ServiceSettings", "build_service", "create_app"]

# Loaded on first use: `bakeoff worker --metrics-port` needs the metrics module, not FastAPI.
__getattr__ = lazy_attributes(
    __name__,
    {
        "create_app": "bakeoff.service.app",
        "Service": "bakeoff.service.service",
        "build_service": "bakeoff.service.service",
        "ServiceSettings": "bakeoff.service.settings",
    },
)
