"""legacy schema: the home-made ``job`` table of the current system.

Revision ID: legacy_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "legacy_0001"
down_revision = None
branch_labels = ("legacy",)
depends_on = "bakeoff_0001"

S = "legacy"
NOW = sa.text("clock_timestamp()")
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED")


def _timestamp(name: str, *, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=not default, server_default=NOW if default else None
    )


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "job",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'PENDING'")),
        sa.Column("handler", sa.Text, nullable=False, server_default=sa.text("'import_article'")),
        sa.Column("payload", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("trial_job_id", pg.UUID(as_uuid=True)),
        # Position in the retry chain: 1 for the first row, original's attempt + 1 for a retry row.
        sa.Column("attempt", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("original_job_id", pg.UUID(as_uuid=True), sa.ForeignKey(f"{S}.job.id")),
        sa.Column("worker_id", sa.Text),
        sa.Column("pid", sa.Integer),
        sa.Column("exit_code", sa.Integer),
        sa.Column("progress", sa.Text),
        sa.Column("result", pg.JSONB),
        sa.Column("error_kind", sa.Text),
        sa.Column("error", sa.Text),
        _timestamp("created_at", default=True),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        _timestamp("updated_at", default=True),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in STATUSES)), name="job_status_known"
        ),
        sa.CheckConstraint("attempt >= 1", name="job_attempt_positive"),
        schema=S,
    )
    # The poller's query: oldest PENDING first (a plain btree; the legacy system has no SKIP LOCKED).
    op.create_index("job_status_created_at_idx", "job", ["status", "created_at"], schema=S)
    op.create_index("job_original_job_id_idx", "job", ["original_job_id"], schema=S)
    op.create_index("job_trial_job_id_idx", "job", ["trial_job_id"], schema=S)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
