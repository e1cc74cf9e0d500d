"""The one class that knows the pgboss arm's SQL: ``queries.sql`` rendered for one schema.

Queries name the schema as ``__SCHEMA__`` and a queue's job table as ``__TABLE__``; fragments
(``job_columns_*``, ``fail_jobs_body``) are spliced in here so each statement stays one named text.
The schema is validated before it is ever rendered, and table names come from pg-boss's own
``queue.table_name`` column (``job_common`` or ``j<sha224 hex>``), checked against that shape.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any

from bakeoff.backends.pgboss.errors import PgBossInputError
from bakeoff.db.sql import load_queries

__all__ = ["PgBossQueries", "notify_channel", "validate_schema_name"]

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_NAME = re.compile(r"^(job_common|job|j[0-9a-f]{56})$")
MAX_SCHEMA_BYTES = 50


def validate_schema_name(schema: str) -> str:
    """Return ``schema`` if pg-boss would accept it as a bare name, else raise (pg-boss's messages)."""
    if not isinstance(schema, str):
        raise PgBossInputError("schema: Name must be a string")
    if not schema:
        raise PgBossInputError("schema: Name cannot be empty")
    if len(schema.encode("utf-8")) > MAX_SCHEMA_BYTES:
        raise PgBossInputError("schema: Name cannot exceed 50 bytes")
    if not _SCHEMA_NAME.match(schema):
        raise PgBossInputError(
            "schema: Name can only contain alphanumeric characters or underscores, "
            f"and must not start with a digit: {schema!r}"
        )
    return schema


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel pg-boss derives for ``schema`` (``pgboss_`` + 24 hex of sha224)."""
    return "pgboss_" + hashlib.sha224(schema.encode("utf-8")).hexdigest()[:24]


@functools.cache
def _raw() -> dict[str, str]:
    return load_queries("bakeoff.backends.pgboss")


class PgBossQueries:
    """Named statements for one schema; ``sql(name, table=...)`` returns ready-to-run text."""

    def __init__(self, schema: str) -> None:
        self.schema = validate_schema_name(schema)
        self.channel = notify_channel(schema)
        self._cache: dict[tuple[str, str, bool], str] = {}

    @staticmethod
    def names() -> list[str]:
        """Every query name in ``queries.sql``."""
        return sorted(_raw())

    def sql(self, name: str, *, table: str = "job_common", metadata: bool = False) -> str:
        """The statement ``name`` for this schema and job ``table`` (columns: all if ``metadata``)."""
        key = (name, table, metadata)
        text = self._cache.get(key)
        if text is None:
            text = self._cache[key] = self._render(name, table, metadata)
        return text

    def _render(self, name: str, table: str, metadata: bool, insert: str = "insert_jobs_body") -> str:
        if not _TABLE_NAME.match(table):
            raise ValueError(f"table: not a pg-boss job table name: {table!r}")
        raw = _raw()
        text = raw[name]
        text = text.replace("__INSERT__", raw[insert])
        if "__FAIL_BODY__" in text:
            text = text.replace("__FAIL_BODY__", raw["fail_jobs_body"])
            where = (
                raw["fail_jobs_where"]
                if name == "fail_jobs"
                else "__PREDICATE__ AND id IN (SELECT id FROM picked)"
            )
            text = text.replace("__WHERE__", where)
            text = text.replace("__OUTPUT__", "%(output)s::jsonb")
        columns = raw["job_columns_all" if metadata else "job_columns_min"]
        text = text.replace("__COLUMNS__", columns)
        return (
            text.replace("__SCHEMA__", self.schema)
            .replace("__TABLE__", table)
            .replace("__CHANNEL__", self.channel)
        )

    def insert_sql(
        self, *, table: str, data_only: bool, notify: bool, returning: bool, skip_conflicts: bool = True
    ) -> str:
        """The job insert for ``table``: ``insert_jobs`` or ``insert_jobs_notify`` (``_quiet``: no rows
        back) around the recordset body, or around ``insert_data_body`` when every job carries only data;
        that one without ``ON CONFLICT DO NOTHING`` unless ``skip_conflicts`` (the recordset body keeps it).
        """
        name = "insert_jobs_notify" if notify else "insert_jobs"
        if not returning:
            name += "_quiet"
        body = "insert_jobs_body"
        if data_only:
            body = "insert_data_body" if skip_conflicts else "insert_data_body:plain"
        key = (f"{name}:{body}", table, False)
        text = self._cache.get(key)
        if text is None:
            text = self._render(name, table, False, insert=body.split(":")[0])
            on_conflict = "ON CONFLICT DO NOTHING" if skip_conflicts else ""
            text = self._cache[key] = text.replace("__ON_CONFLICT__", on_conflict)
        return text

    def expire_sql(self, predicate: str, *, table: str) -> str:
        """The expiry sweep with ``predicate`` (``timed_out_predicate`` or ``heartbeat_lost_predicate``)."""
        key = (f"expire_jobs:{predicate}", table, False)
        text = self._cache.get(key)
        if text is None:
            base = self._render("expire_jobs", table, False)
            text = base.replace("__PREDICATE__", self._render(predicate, table, False))
            self._cache[key] = text
        return text

    def advisory_lock(self, key: str) -> tuple[str, dict[str, Any]]:
        """The statement (and its parameters) that takes pg-boss's transaction lock ``key`` in this schema."""
        return self.sql("advisory_xact_lock"), {"schema": self.schema, "key": key}

    def install_script(self) -> str:
        """The whole construction plan for this schema (multi-statement, no parameters)."""
        return self.sql("install_schema")
