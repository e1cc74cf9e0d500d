"""Test support shipped with the package: isolated PostgreSQL databases for tests and benchmarks.

:class:`TestDatabases` finds a server (``BAKEOFF_TEST_DATABASE_URL``, else an embedded server kept
under ``BAKEOFF_TEST_DATA_DIR`` or the temp folder), migrates one template database per session, and
hands each test a fresh copy of it, so tests can run in any order and never see each other's rows.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text

from bakeoff.db.embedded import ensure_embedded_server
from bakeoff.db.engine import connect_raw, make_engine
from bakeoff.db.migrate import upgrade
from bakeoff.db.urls import libpq_url, with_database

__all__ = ["TestDatabases", "test_server_url"]


def test_server_url() -> str:
    """The server tests use: ``BAKEOFF_TEST_DATABASE_URL`` or the embedded one."""
    configured = os.environ.get("BAKEOFF_TEST_DATABASE_URL")
    if configured:
        return libpq_url(configured)
    data_dir = Path(
        os.environ.get("BAKEOFF_TEST_DATA_DIR")
        or Path(tempfile.gettempdir()) / f"bakeoff-test-pg-{os.getuid()}"
    )
    return libpq_url(ensure_embedded_server(data_dir).url)


class TestDatabases:
    """Creates a migrated template once, then one throwaway database per test."""

    __test__ = False  # not a pytest test class

    def __init__(self, server_url: str | None = None) -> None:
        self.server_url = server_url or test_server_url()
        self.template = f"bakeoff_tpl_{uuid.uuid4().hex[:12]}"
        self._template_ready = False

    def _admin(self) -> object:
        return connect_raw(self.server_url, autocommit=True)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{self.template}"')
        engine = make_engine(with_database(self.server_url, self.template), pool_size=1)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self._template_ready = True

    def create(self) -> str:
        """A fresh, migrated database; returns its URL."""
        self._ensure_template()
        name = f"bakeoff_t_{uuid.uuid4().hex[:16]}"
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY')
        return with_database(self.server_url, name)

    def create_empty(self) -> str:
        """A fresh database with no schema at all (for migration tests)."""
        name = f"bakeoff_e_{uuid.uuid4().hex[:16]}"
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.server_url, name)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`create`, ending any sessions still connected."""
        name = make_engine(url).url.database
        with connect_raw(self.server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._template_ready:
            with connect_raw(self.server_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            self._template_ready = False


def count_rows(url: str, table: str) -> int:
    """Row count of a fully-qualified table (tests only)."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
    finally:
        engine.dispose()
