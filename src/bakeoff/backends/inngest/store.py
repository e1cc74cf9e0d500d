"""The step engine's SQL, loaded once from ``queries.sql`` and run by name on psycopg connections.

The engine's hot paths use psycopg 3 directly (no ORM): one named query per round trip, rows as
dicts, JSON through ``Jsonb``. ``{schema}`` in the file becomes :data:`SCHEMA`, the one schema the
``inngest`` migrations install.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bakeoff.db.sql import load_queries

__all__ = ["SCHEMA", "Conn", "Sql", "json_size", "jsonb"]

Conn = psycopg.Connection[Any]
SCHEMA = "inngest"
"""The step engine's schema: what ``bakeoff db upgrade`` installs (there is no other)."""


def jsonb(value: Any) -> Jsonb | None:
    """A JSON parameter (SQL NULL for None)."""
    return None if value is None else Jsonb(value)


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON: what the state and output limits count."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8"))


class Sql:
    """The engine's named queries, with thin helpers to run them."""

    def __init__(self) -> None:
        self.schema = SCHEMA
        self.channel = f"{SCHEMA}_queue"
        self.queries = {
            name: sql.replace("{schema}", SCHEMA)
            for name, sql in load_queries("bakeoff.backends.inngest").items()
        }

    def run(self, conn: Conn, query: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run a named query; its rows (empty for statements that return none)."""
        cur = conn.cursor(row_factory=dict_row)
        cur.execute(self.queries[query], params, prepare=True)
        return cur.fetchall() if cur.description else []

    def one(self, conn: Conn, query: str, /, **params: Any) -> dict[str, Any] | None:
        rows = self.run(conn, query, **params)
        return rows[0] if rows else None

    def scalar(self, conn: Conn, query: str, /, **params: Any) -> Any:
        row = self.one(conn, query, **params)
        return None if row is None else next(iter(row.values()))

    def notify(self, conn: Conn) -> None:
        self.run(conn, "notify", channel=self.channel)
