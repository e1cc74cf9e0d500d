"""Fixtures for the pg-boss port's integration tests.

Creating a database costs seconds on a busy server, so the pgboss tests share one migrated
database and each module gets its own pg-boss schema in it (installed by ``PgBoss.start()``);
tests keep apart by using queue names of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from bakeoff.backends.pgboss import PgBoss
from bakeoff.db.sql import parse_queries
from bakeoff.db.urls import libpq_url

SQL = parse_queries((Path(__file__).parent / "queries.sql").read_text(encoding="utf-8"))


class Probe:
    """Reads and ages rows of one schema with the test-only statements in this folder's queries.sql."""

    def __init__(self, url: str, schema: str) -> None:
        self.conn = psycopg.connect(libpq_url(url), autocommit=True, row_factory=dict_row)
        self.schema = schema

    def rows(self, query: str, /, **params: Any) -> list[dict[str, Any]]:
        with self.conn.cursor() as cur:
            cur.execute(SQL[query].replace("__SCHEMA__", self.schema), params)
            return cur.fetchall() if cur.description else []

    def job(self, job_id: str | None) -> dict[str, Any]:
        rows = self.rows("job_row", id=job_id)
        assert rows, f"no job {job_id}"
        return rows[0]

    def jobs(self, name: str) -> list[dict[str, Any]]:
        return self.rows("jobs_of", name=name)

    def age(self, job_id: str | None, seconds: float) -> None:
        self.rows("age_job", id=job_id, seconds=seconds)


@pytest.fixture(scope="module")
def schema() -> str:
    """The module's pg-boss schema (tests keep apart by using their own queue names)."""
    return f"pgb_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def probe(shared_database: str, schema: str) -> Iterator[Probe]:
    probe = Probe(shared_database, schema)
    yield probe
    probe.conn.close()


@pytest.fixture(scope="module")
def boss(shared_database: str, schema: str) -> Iterator[PgBoss]:
    """A started instance on the module's schema, without background supervision or cron."""
    instance = PgBoss(shared_database, schema=schema, supervise=False, schedule=False).start()
    yield instance
    instance.stop(timeout=1)


@pytest.fixture
def queue() -> str:
    """A queue name no other test uses."""
    return f"q-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def fresh_schema() -> str:
    """A schema of this test's own, for tests that need their own instance."""
    return f"pgb_{uuid.uuid4().hex[:10]}"
