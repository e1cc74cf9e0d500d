"""bakeoff schema: consistency checks (a sample of imports re-fetched through the control's code path).

Revision ID: bakeoff_0003
Revises: bakeoff_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "bakeoff_0003"
down_revision = "bakeoff_0002"
branch_labels = None
depends_on = None

S = "bakeoff"
NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "consistency_settings",
        sa.Column("experiment", sa.Text, primary_key=True),
        sa.Column("sample_rate", sa.Double, nullable=False, server_default=sa.text("0.05")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("sample_rate >= 0 AND sample_rate <= 1", name="consistency_settings_sample_rate"),
        schema=S,
    )
    op.create_table(
        "consistency_checks",
        sa.Column("check_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("experiment", sa.Text, nullable=False),
        # No foreign keys (documents.trial_job_id has none either): the bakeoff tables stay
        # truncatable one by one, and the code checks the experiment and the job exist.
        sa.Column("trial_job_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("arm", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("identical", sa.Boolean),
        sa.Column("arm_sha256", sa.Text, nullable=False),
        sa.Column("control_sha256", sa.Text),
        sa.Column("control_text", sa.Text),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("trial_job_id", name="consistency_checks_trial_job_id_key"),
        sa.CheckConstraint("(identical IS NULL) = (error IS NOT NULL)", name="consistency_checks_outcome"),
        schema=S,
    )
    op.create_index(
        "consistency_checks_experiment_arm", "consistency_checks", ["experiment", "arm"], schema=S
    )


def downgrade() -> None:
    op.drop_table("consistency_checks", schema=S)
    op.drop_table("consistency_settings", schema=S)
