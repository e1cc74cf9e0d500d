"""bakeoff schema: per-experiment guardrail settings (off unless enabled).

Revision ID: bakeoff_0002
Revises: bakeoff_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bakeoff_0002"
down_revision = "bakeoff_0001"
branch_labels = None
depends_on = None

S = "bakeoff"
NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "guardrail_settings",
        # No foreign key, like observations and reports: the guard checks the experiment exists, and
        # the bakeoff tables stay truncatable one by one.
        sa.Column("experiment", sa.Text, primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("failure_margin", sa.Double, nullable=False, server_default=sa.text("0.05")),
        sa.Column("latency_ratio", sa.Double, nullable=False, server_default=sa.text("2.0")),
        sa.Column("alpha", sa.Double, nullable=False, server_default=sa.text("0.05")),
        sa.Column("min_jobs", sa.Integer, nullable=False, server_default=sa.text("30")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "failure_margin > 0 AND failure_margin < 1", name="guardrail_settings_failure_margin"
        ),
        sa.CheckConstraint("latency_ratio > 1", name="guardrail_settings_latency_ratio"),
        sa.CheckConstraint("alpha > 0 AND alpha < 0.5", name="guardrail_settings_alpha"),
        sa.CheckConstraint("min_jobs >= 2", name="guardrail_settings_min_jobs"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("guardrail_settings", schema=S)
