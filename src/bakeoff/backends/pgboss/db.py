"""Where the port's statements run: a psycopg pool, or a caller's open transaction.

``send(..., conn=)`` and friends accept a SQLAlchemy ``Connection`` or a psycopg connection; the
statement then runs inside that connection's transaction (and its NOTIFY fires at its commit), so
an application's own writes and the job commit or roll back together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from json.scanner import make_scanner
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from bakeoff.contract import BackendError
from bakeoff.db.driver import driver_connection
from bakeoff.db.urls import libpq_url, mask_url

__all__ = ["Database", "driver_connection"]

logger = logging.getLogger(__name__)

Row = dict[str, Any]


# typeshed types the scanner's context as a scanner (its own TODO: a decoder's attributes, duck-typed).
_scan_json_value = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""The C scanner under ``json.loads``, with the same defaults."""


def _load_json(data: str | bytes) -> Any:
    """``json.loads`` for the server's JSON text at half the cost a value (~0.15 ms a fetch of 100 jobs).

    ``json.loads`` of bytes first sniffs their encoding (the server's is UTF-8) and then scans for
    whitespace around the value (the server prints none); this scans the value alone, and hands any
    text it does not cover exactly to ``json.loads``, which parses it or says why not.
    """
    text = data.decode() if isinstance(data, bytes) else data
    try:
        value, end = _scan_json_value(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _configure_session(connection: psycopg.Connection[Any]) -> None:
    """Read ``uuid`` values as their text and JSON with :func:`_load_json`.

    The port keeps job ids as strings, and a fetch of 100 jobs would otherwise build (then stringify)
    100 ``UUID`` objects, ~0.15 ms of client time.
    """
    connection.adapters.register_loader("uuid", TextLoader)
    set_json_loads(_load_json, connection)


class Database:
    """Two small pools of autocommit connections with server-side prepared statements, reading
    ``uuid`` columns as text and JSON with a leaner loader (``_configure_session``).

    Every statement is prepared on its connection. The hot statements (``generic=True``:
    send/insert, a fetch without priority bounds, complete, fail, touch), whose generic plans are
    sound, run on a pool whose sessions start with ``plan_cache_mode = force_generic_plan``, so the
    server reuses their plan instead of planning each call (about half their server time). Every
    other statement runs on a pool under the server's default plan choice. Two pools, rather than one
    whose sessions switch modes, cost no ``SET`` round trip when a worker alternates a priority-bounded
    fetch and a complete.
    """

    GENERIC_PLANS_OPTION = "-c plan_cache_mode=force_generic_plan"

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 10,
        application_name: str = "pgboss",
        reuse_generic_plans: bool = True,
    ) -> None:
        self.url = libpq_url(url)
        self.max_size = max_size
        self._application_name = application_name
        self._reuse_generic_plans = reuse_generic_plans
        self._pools: dict[bool, ConnectionPool[psycopg.Connection[Row]]] = {}

    def _new_pool(self, *, generic: bool) -> ConnectionPool[psycopg.Connection[Row]]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "application_name": self._application_name,
            "connect_timeout": 10,
        }
        if generic:
            kwargs["options"] = self.GENERIC_PLANS_OPTION
        return ConnectionPool(
            self.url,
            min_size=1,
            max_size=self.max_size,
            kwargs=kwargs,
            configure=_configure_session,
            name=f"pgboss{':generic' if generic else ''}:{mask_url(self.url)}",
            open=False,
        )

    def open(self) -> None:
        if self._pools:
            return
        pools = {False: self._new_pool(generic=False)}
        if self._reuse_generic_plans:
            pools[True] = self._new_pool(generic=True)
        try:
            for pool in pools.values():
                pool.open(wait=True, timeout=15)
        except Exception as exc:
            for pool in pools.values():
                pool.close(timeout=1)
            raise BackendError(f"cannot connect to {mask_url(self.url)}: {exc}") from exc
        self._pools = pools

    def close(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close(timeout=5)

    @property
    def is_open(self) -> bool:
        return bool(self._pools)

    @contextmanager
    def connection(
        self, conn: object | None = None, *, generic: bool = False
    ) -> Iterator[psycopg.Connection[Any]]:
        """The caller's connection when given (left as it is), else one from the pool for ``generic``."""
        if conn is not None:
            yield driver_connection(conn)
            return
        if not self._pools:
            raise BackendError("pg-boss is not started: call start() first")
        pool = self._pools.get(generic) or self._pools[False]
        with pool.connection(timeout=30) as pooled:
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

    def pipelined(
        self, statements: list[tuple[str, dict[str, Any]]], *, generic: bool = False
    ) -> list[list[Row]]:
        """Run ``statements`` on one pooled connection in one round trip (psycopg pipeline mode).

        They form one implicit transaction (one Sync at the end): an error in any of them undoes all.
        """
        with self.connection(generic=generic) as connection:
            cursors = []
            with connection.pipeline():
                for sql, params in statements:
                    cur = connection.cursor(row_factory=dict_row)
                    cur.execute(sql, params)
                    cursors.append(cur)
            return [cur.fetchall() if cur.description else [] for cur in cursors]

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
