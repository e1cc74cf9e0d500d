"""pgboss schema: pg-boss 12.38's layout (schema version 46), installed by the port's installer.

The installer is idempotent: an existing pg-boss install at version 46 (made by a real pg-boss or
by us) is attached to unchanged; any other version stops the upgrade with an error naming it.

Revision ID: pgboss_0001
Revises:
"""

from __future__ import annotations

from alembic import op

from bakeoff.backends.pgboss.db import driver_connection
from bakeoff.backends.pgboss.installer import ensure_installed
from bakeoff.backends.pgboss.store import PgBossQueries

revision = "pgboss_0001"
down_revision = None
branch_labels = ("pgboss",)
depends_on = "bakeoff_0001"

SCHEMA = "pgboss"


def upgrade() -> None:
    ensure_installed(driver_connection(op.get_bind()), PgBossQueries(SCHEMA))


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
