"""Errors of the pg-boss port, under :class:`bakeoff.contract.BakeoffError`::

BakeoffError
├── InvalidRequest (ValueError)
│   ├── PgBossInputError        an argument breaks one of pg-boss's rules (message as pg-boss's)
│   └── QueueNotFound           the named queue does not exist
└── BackendError
    └── UnsupportedSchemaVersion  the schema holds a pg-boss version this port does not speak
"""

from __future__ import annotations

from bakeoff.backends.pgboss.models import PGBOSS_VERSION, SCHEMA_VERSION
from bakeoff.contract import BackendError, InvalidRequest

__all__ = ["PgBossInputError", "QueueNotFound", "UnsupportedSchemaVersion"]


class PgBossInputError(InvalidRequest):
    """An argument breaks one of pg-boss's rules; the message is pg-boss's, in snake_case terms."""


class QueueNotFound(InvalidRequest):
    """The queue named in a call does not exist (pg-boss: ``Queue <name> does not exist``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Queue {name} does not exist")
        self.queue = name


class UnsupportedSchemaVersion(BackendError):
    """The schema holds a pg-boss install of a version this port does not speak."""

    def __init__(self, schema: str, found: int) -> None:
        super().__init__(
            f"schema {schema!r} holds pg-boss schema version {found}; this port supports only "
            f"version {SCHEMA_VERSION} (pg-boss {PGBOSS_VERSION})"
        )
        self.found = found
