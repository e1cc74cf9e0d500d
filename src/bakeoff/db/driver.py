"""The psycopg connection behind a SQLAlchemy one: for hot paths that run prepared statements directly.

The router, the metrics recorder and the arms' enqueues run inside the router's SQLAlchemy
transaction but execute on its psycopg connection (server-side prepared statements, psycopg's own
row factories). This module is the one place that looks that connection up; it imports psycopg
only, so light processes (the legacy child) can use it without SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import psycopg

__all__ = ["driver_connection"]


def driver_connection(conn: object) -> psycopg.Connection[Any]:
    """The psycopg connection behind ``conn``: itself, or a SQLAlchemy ``Connection``'s driver connection.

    Raises :class:`TypeError` for anything else, including a SQLAlchemy connection whose driver
    connection is gone (closed or invalidated).
    """
    if isinstance(conn, psycopg.Connection):
        return conn
    fairy = getattr(conn, "connection", None)  # sqlalchemy.Connection -> PoolProxiedConnection
    driver = getattr(fairy, "driver_connection", None)
    if isinstance(driver, psycopg.Connection):
        return driver
    raise TypeError(
        f"conn must be a SQLAlchemy Connection or a psycopg Connection, not {type(conn).__name__}"
    )
