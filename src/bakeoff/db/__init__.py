"""Database access: which PostgreSQL to use (embedded by default), engines, migrations and named SQL."""

from __future__ import annotations

from bakeoff.db.engine import check_connection, connect_raw, make_engine, resolve_database_url
from bakeoff.db.urls import libpq_url, mask_url, sqlalchemy_url, with_database

__all__ = [
    "check_connection",
    "connect_raw",
    "libpq_url",
    "make_engine",
    "mask_url",
    "resolve_database_url",
    "sqlalchemy_url",
    "with_database",
]
