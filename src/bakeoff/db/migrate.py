"""Schema migrations: one Alembic environment, one branch per schema owner.

The ``bakeoff`` branch lives in ``bakeoff/db/migrations/versions``; each backend keeps its own branch
in ``bakeoff/backends/<name>/migrations`` (branch label = backend name). ``upgrade`` applies every
branch head, under an advisory lock so concurrent ``bakeoff`` processes migrate once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from bakeoff.db.schema import SCHEMA

__all__ = [
    "BRANCH_OWNERS",
    "alembic_config",
    "applied_revisions",
    "current_revisions",
    "head_revisions",
    "upgrade",
]

BRANCH_OWNERS = (
    "bakeoff.db.migrations.versions",
    *(f"bakeoff.backends.{b}.migrations" for b in ("legacy", "pgboss", "inngest")),
)
_MIGRATION_LOCK_KEY = 0x62616B656F6666  # "bakeoff"


def _version_locations() -> list[str]:
    locations = []
    for package in BRANCH_OWNERS:
        try:
            path = Path(str(resources.files(package)))
        except ModuleNotFoundError:
            continue
        if path.is_dir():
            locations.append(str(path))
    return locations


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at every owner's migrations, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("bakeoff.db.migrations")))
    config.set_main_option("version_locations", " ".join(_version_locations()))
    config.set_main_option("path_separator", "space")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> set[str]:
    """Every branch head known to the installed package."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    """The revisions applied to the database (empty when never migrated)."""
    exists = connection.execute(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{SCHEMA}.alembic_version"}
    ).scalar_one()
    if not exists:
        return set()
    ctx = MigrationContext.configure(connection, opts={"version_table_schema": SCHEMA})
    return set(ctx.get_current_heads())


def applied_revisions(connection: Connection) -> set[str]:
    """Every revision the database has, including those a stored head depends on.

    Alembic stores only the heads; a branch whose first revision ``depends_on`` another branch's
    revision implies that one without storing it, so "what is applied" is the closure.
    """
    revisions = ScriptDirectory.from_config(alembic_config()).revision_map
    applied: set[str] = set()
    pending = list(current_revisions(connection))
    while pending:
        revision = revisions.get_revision(pending.pop())
        if revision is None or revision.revision in applied:
            continue
        applied.add(revision.revision)
        for parent in (revision.down_revision, revision.dependencies):
            pending.extend([parent] if isinstance(parent, str) else (parent or ()))
    return applied


def upgrade(engine: Engine) -> set[str]:
    """Apply every pending migration (idempotent); returns the revisions now applied."""
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection), "heads")
        return applied_revisions(connection)
