"""The three arms of the trial: ``legacy``, ``pgboss`` and ``inngest``, each in its own schema.

Every arm implements :class:`bakeoff.contract.JobBackend` and is built the same way::

    backend = create_backend("pgboss", engine, import_settings=settings)

Each arm runs the same ``import_article`` handler its own way and reports the lifecycle through
:class:`bakeoff.metrics.Instrumentation`, so all three are measured identically.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bakeoff.contract import ARM_NAMES, ConfigurationError, JobBackend

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["BACKEND_CLASSES", "INNGEST_TRANSPORTS", "create_backend"]

BACKEND_CLASSES = {
    "legacy": "bakeoff.backends.legacy.adapter:LegacyBackend",
    "pgboss": "bakeoff.backends.pgboss.adapter:PgBossBackend",
    "inngest": "bakeoff.backends.inngest.adapter:InngestBackend",
}
"""Arm name -> ``module:class``; each class takes ``(engine, *, import_settings=None, **options)``."""
INNGEST_TRANSPORTS = {
    "in-process": "bakeoff.backends.inngest.adapter:InngestBackend",
    "http": "bakeoff.backends.inngest.adapter_http:HttpInngestBackend",
}
"""How the inngest arm reaches its function: in the worker's process, or over HTTP (needs ``app_url``)."""


def create_backend(name: str, engine: Engine, **options: Any) -> JobBackend:
    """Build the named arm's backend on ``engine``."""
    if name not in BACKEND_CLASSES:
        raise ConfigurationError(f"unknown arm {name!r}; the arms are {', '.join(ARM_NAMES)}")
    target = BACKEND_CLASSES[name]
    if name == "inngest":
        # transport="http" runs the import as a function an app serves with Inngest's SDK.
        transport = options.pop("transport", "in-process")
        if transport not in INNGEST_TRANSPORTS:
            raise ConfigurationError(
                f"unknown inngest transport {transport!r}; use {' or '.join(INNGEST_TRANSPORTS)}"
            )
        target = INNGEST_TRANSPORTS[transport]
    module_name, class_name = target.split(":")
    backend_class = getattr(import_module(module_name), class_name)
    backend: JobBackend = backend_class(engine, **options)
    return backend
