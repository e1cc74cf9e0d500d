"""The step engine's SQL, loaded once from ``queries.sql`` and run by name on psycopg connections.

The engine's hot paths use psycopg 3 directly (no ORM): one named query per round trip, rows as
dicts, JSON through ``Jsonb``. ``{schema}`` in the file becomes the client's (validated) schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bakeoff.backends.inngest.errors import InvalidFunction
from bakeoff.db.sql import load_queries

__all__ = ["Conn", "Sql", "json_size", "jsonb"]

Conn = psycopg.Connection[Any]
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def jsonb(value: Any) -> Jsonb | None:
    """A JSON parameter (SQL NULL for None)."""
    return None if value is None else Jsonb(value)


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON: what the state and output limits count."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8"))


class Sql:
    """Named queries for one schema, with thin helpers to run them."""

    def __init__(self, schema: str = "inngest") -> None:
        if not _SCHEMA_NAME.match(schema):
            raise InvalidFunction(f"schema must be a lower-case SQL identifier, not {schema!r}")
        self.schema = schema
        self.channel = f"{schema}_queue"
        self.queries = {
            name: sql.replace("{schema}", schema)
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
