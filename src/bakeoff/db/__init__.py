"""Database access: which PostgreSQL to use (embedded by default), engines, migrations and named SQL.

The names below load on first use, so a light module (``bakeoff.db.sql``, which a spawned legacy
child needs) does not pull SQLAlchemy in through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeoff._lazy import lazy_attributes

if TYPE_CHECKING:
    from bakeoff.db.driver import driver_connection
    from bakeoff.db.engine import check_connection, connect_raw, make_engine, resolve_database_url
    from bakeoff.db.urls import libpq_url, mask_url, sqlalchemy_url, with_database

__all__ = [
    "check_connection",
    "connect_raw",
    "driver_connection",
    "libpq_url",
    "make_engine",
    "mask_url",
    "resolve_database_url",
    "sqlalchemy_url",
    "with_database",
]

_LAZY = {
    "check_connection": "bakeoff.db.engine",
    "connect_raw": "bakeoff.db.engine",
    "driver_connection": "bakeoff.db.driver",
    "make_engine": "bakeoff.db.engine",
    "resolve_database_url": "bakeoff.db.engine",
    "libpq_url": "bakeoff.db.urls",
    "mask_url": "bakeoff.db.urls",
    "sqlalchemy_url": "bakeoff.db.urls",
    "with_database": "bakeoff.db.urls",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
