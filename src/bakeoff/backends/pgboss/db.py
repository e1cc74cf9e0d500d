"""Where the port's statements run: a psycopg pool, or a caller's open transaction.

``send(..., conn=)`` and friends accept a SQLAlchemy ``Connection`` or a psycopg connection; the
statement then runs inside that connection's transaction (and its NOTIFY fires at its commit), so
an application's own writes and the job commit or roll back together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bakeoff.contract import BackendError
from bakeoff.db.urls import libpq_url, mask_url

__all__ = ["Database", "driver_connection"]

logger = logging.getLogger(__name__)

Row = dict[str, Any]


class PooledConnection(psycopg.Connection[Row]):
    """A pool connection that remembers whether its session reuses generic plans (``plan_cache_mode``)."""

    generic_plans: bool = False


def driver_connection(conn: object) -> psycopg.Connection[Any]:
    """The psycopg connection behind ``conn`` (itself, or a SQLAlchemy Connection's driver connection)."""
    if isinstance(conn, psycopg.Connection):
        return conn
    fairy = getattr(conn, "connection", None)  # sqlalchemy.Connection -> PoolProxiedConnection
    driver = getattr(fairy, "driver_connection", None)
    if isinstance(driver, psycopg.Connection):
        return driver
    raise TypeError(
        f"conn must be a SQLAlchemy Connection or a psycopg Connection, not {type(conn).__name__}"
    )


class Database:
    """A small pool of autocommit connections with server-side prepared statements.

    Every statement is prepared on its connection, and the server then picks a custom or a
    generic plan per call. The hot statements (``generic=True``: send/insert, a single fetch,
    complete, fail, touch), whose generic plans are sound, run with ``plan_cache_mode =
    force_generic_plan`` so the server reuses their plan instead of planning each call (about half
    their server time); the setting is switched per connection only when a connection changes
    between hot and other work, and every other statement runs under the server's default plan
    choice. ``plan_modes`` is the pair of statements ``(set generic, reset)``.
    """

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 10,
        application_name: str = "pgboss",
        plan_modes: tuple[str, str] | None = None,
    ) -> None:
        self.url = libpq_url(url)
        self.max_size = max_size
        self._application_name = application_name
        self._plan_modes = plan_modes
        self._pool: ConnectionPool[PooledConnection] | None = None

    def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self.max_size,
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "row_factory": dict_row,
                "application_name": self._application_name,
                "connect_timeout": 10,
            },
            connection_class=PooledConnection,
            name=f"pgboss:{mask_url(self.url)}",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=15)
        except Exception as exc:
            self._pool = None
            raise BackendError(f"cannot connect to {mask_url(self.url)}: {exc}") from exc

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=5)

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @contextmanager
    def connection(
        self, conn: object | None = None, *, generic: bool = False
    ) -> Iterator[psycopg.Connection[Any]]:
        """The caller's connection when given (left as it is), else one from the pool.

        A pooled connection is switched to reusing generic plans when ``generic``, and back to the
        server's default otherwise, each only if its session is not in that mode already.
        """
        if conn is not None:
            yield driver_connection(conn)
            return
        if self._pool is None:
            raise BackendError("pg-boss is not started: call start() first")
        with self._pool.connection(timeout=30) as pooled:
            if pooled.generic_plans != generic and self._plan_modes is not None:
                pooled.execute(self._plan_modes[0 if generic else 1], prepare=False)
                pooled.generic_plans = generic
            yield pooled

    def rows(
        self,
        sql: str,
        params: dict[str, Any] | None = None,
        *,
        conn: object | None = None,
        generic: bool = False,
    ) -> list[Row]:
        """Run one statement; return its rows as dicts (empty when it returns none)."""
        with (
            self.connection(conn, generic=generic) as connection,
            connection.cursor(row_factory=dict_row) as cur,
        ):
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def one(
        self,
        sql: str,
        params: dict[str, Any] | None = None,
        *,
        conn: object | None = None,
        generic: bool = False,
    ) -> Row | None:
        rows = self.rows(sql, params, conn=conn, generic=generic)
        return rows[0] if rows else None

    def locked(
        self, statements: list[tuple[str, dict[str, Any] | None]], *, lock: tuple[str, dict[str, Any]]
    ) -> list[list[Row]]:
        """Run ``statements`` in one transaction after taking the advisory lock ``lock``."""
        results: list[list[Row]] = []
        with self.connection() as connection, connection.transaction():
            connection.execute(lock[0], lock[1])
            with connection.cursor(row_factory=dict_row) as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
                    results.append(cur.fetchall() if cur.description else [])
        return results
