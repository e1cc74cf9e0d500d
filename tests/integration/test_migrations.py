"""Migrations apply cleanly, are idempotent, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from bakeoff.db.engine import make_engine
from bakeoff.db.migrate import applied_revisions, head_revisions, upgrade
from bakeoff.db.schema import SCHEMA, metadata
from bakeoff.testing import TestDatabases


def test_upgrade_from_empty_is_idempotent(test_databases: TestDatabases) -> None:
    url = test_databases.create_empty()
    engine = make_engine(url, pool_size=1)
    try:
        first = upgrade(engine)
        second = upgrade(engine)
        assert first == second
        assert head_revisions() <= first
        with engine.connect() as conn:
            schemas = set(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())
        assert SCHEMA in schemas
    finally:
        engine.dispose()
        test_databases.drop(url)


def test_migrated_schema_equals_models(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    type_ != "table" or getattr(obj, "schema", None) == SCHEMA
                ),
                "compare_server_default": True,
            },
        )
        diff = [d for d in compare_metadata(ctx, metadata) if "alembic_version" not in repr(d)]
    assert diff == []


def test_every_branch_head_is_applied(engine: Engine) -> None:
    with engine.connect() as conn:
        applied = applied_revisions(conn)
    assert head_revisions() <= applied
    assert {"bakeoff_0001", "legacy_0001", "pgboss_0001", "inngest_0001"} <= applied
