"""Install pg-boss 12's schema, or attach to one a real pg-boss installed.

The install runs pg-boss's construction plan in one transaction under the same advisory lock
pg-boss takes (sha224 of database + schema), so a Node pg-boss and this port starting together
install once. An existing schema is accepted only at :data:`SCHEMA_VERSION`; any other version is
refused with an error naming it, since running old or newer SQL against it would corrupt jobs.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from bakeoff.backends.pgboss.errors import UnsupportedSchemaVersion
from bakeoff.backends.pgboss.models import SCHEMA_VERSION
from bakeoff.backends.pgboss.store import PgBossQueries

__all__ = ["ensure_installed", "installed_version"]

logger = logging.getLogger(__name__)


def installed_version(conn: psycopg.Connection[Any], queries: PgBossQueries) -> int | None:
    """The pg-boss schema version in ``queries.schema``, or None when nothing is installed."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            queries.sql("version_table_exists"), {"version_table": f"{queries.schema}.version"}
        ).fetchone()
        if not row or not row[0]:
            return None
        version = cur.execute(queries.sql("get_version")).fetchone()
    return int(version[0]) if version else None


def _check(schema: str, version: int) -> None:
    if version != SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(schema, version)


def ensure_installed(conn: psycopg.Connection[Any], queries: PgBossQueries) -> bool:
    """Install the schema if absent (True), or check an existing one's version (False).

    ``conn`` must not be inside a transaction: the install is its own transaction.
    """
    found = installed_version(conn, queries)
    if found is not None:
        _check(queries.schema, found)
        return False
    with conn.transaction():
        conn.execute(queries.sql("set_install_timeouts"), prepare=False)
        conn.execute(queries.sql("advisory_xact_lock"), {"schema": queries.schema, "key": ""})
        # Another instance may have installed while this one waited for the lock.
        found = installed_version(conn, queries)
        if found is not None:
            _check(queries.schema, found)
            return False
        conn.execute(queries.install_script(), prepare=False)
        conn.execute(queries.sql("insert_version"), {"version": SCHEMA_VERSION})
    logger.info("installed pg-boss schema %s at version %s", queries.schema, SCHEMA_VERSION)
    return True
