"""Alembic environment: runs on the connection bakeoff hands it (see bakeoff.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bakeoff.db.schema import SCHEMA, metadata

config = context.config


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Only the bakeoff schema is described by models; backends own their schemas through their own SQL.
    if type_ == "table":
        return getattr(obj, "schema", None) == SCHEMA
    return True


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table="alembic_version",
        version_table_schema=SCHEMA,
        include_schemas=True,
        include_object=_include_object,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("bakeoff migrations run online only (bakeoff db upgrade)")
run_migrations_online()
