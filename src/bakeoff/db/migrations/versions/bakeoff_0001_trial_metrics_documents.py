"""bakeoff schema: experiments, trial jobs, job events, observations, documents, reports.

Revision ID: bakeoff_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "bakeoff_0001"
down_revision = None
branch_labels = ("bakeoff",)
depends_on = None

S = "bakeoff"
NOW = sa.text("clock_timestamp()")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("arms", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("weights", pg.ARRAY(sa.Double), nullable=False),
        sa.Column("control", sa.Text, nullable=False),
        sa.Column("salt", sa.Text, nullable=False),
        sa.Column("phase", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("killed_arms", pg.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("phase >= 1", name="experiments_phase_positive"),
        sa.CheckConstraint("cardinality(arms) = cardinality(weights)", name="experiments_weights_match_arms"),
        schema=S,
    )
    op.create_table(
        "experiment_phases",
        sa.Column(
            "experiment", sa.Text, sa.ForeignKey(f"{S}.experiments.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("weights", pg.ARRAY(sa.Double), nullable=False),
        sa.Column("salt", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("experiment", "phase", name="experiment_phases_pkey"),
        schema=S,
    )
    op.create_table(
        "unit_overrides",
        sa.Column(
            "experiment", sa.Text, sa.ForeignKey(f"{S}.experiments.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("unit_key", sa.Text, nullable=False),
        sa.Column("arm", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("experiment", "unit_key", name="unit_overrides_pkey"),
        schema=S,
    )
    op.create_table(
        "trial_jobs",
        sa.Column("trial_job_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("experiment", sa.Text, nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("unit_key", sa.Text, nullable=False),
        sa.Column("assigned_arm", sa.Text, nullable=False),
        sa.Column("served_arm", sa.Text, nullable=False),
        sa.Column("assignment_reason", sa.Text, nullable=False),
        sa.Column("backend_job_id", sa.Text),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("enqueued_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("outcome", sa.Text),
        sa.Column("error_kind", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("document_id", pg.UUID(as_uuid=True)),
        sa.CheckConstraint(
            "assignment_reason IN ('hash', 'override', 'killed', 'fallback')", name="trial_jobs_reason_known"
        ),
        sa.CheckConstraint(
            "outcome IN ('completed', 'failed', 'cancelled')", name="trial_jobs_outcome_known"
        ),
        sa.CheckConstraint(
            "(outcome IS NULL) = (finished_at IS NULL)", name="trial_jobs_outcome_with_finish"
        ),
        sa.CheckConstraint("attempts >= 0", name="trial_jobs_attempts_non_negative"),
        sa.UniqueConstraint("experiment", "idempotency_key", name="trial_jobs_idempotency_key"),
        schema=S,
    )
    op.create_index(
        "trial_jobs_experiment_phase_submitted",
        "trial_jobs",
        ["experiment", "phase", "submitted_at"],
        schema=S,
    )
    op.create_index(
        "trial_jobs_open", "trial_jobs", ["served_arm"], schema=S, postgresql_where=sa.text("outcome IS NULL")
    )
    op.create_table(
        "job_events",
        sa.Column("event_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "trial_job_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey(f"{S}.trial_jobs.trial_job_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("detail", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=S,
    )
    op.create_index("job_events_trial_job", "job_events", ["trial_job_id", "at"], schema=S)
    op.create_table(
        "observations",
        sa.Column("observation_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("experiment", sa.Text, nullable=False, server_default=sa.text("'article-import'")),
        sa.Column("arm", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("recorded_by", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=S,
    )
    op.create_table(
        "documents",
        sa.Column(
            "document_id",
            pg.UUID(as_uuid=True),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("trial_job_id", pg.UUID(as_uuid=True)),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("author", sa.Text),
        sa.Column("published", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("word_count", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.Text, nullable=False),
        sa.Column("fetched_bytes", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("trial_job_id", name="documents_trial_job_id_key"),
        sa.UniqueConstraint("idempotency_key", name="documents_idempotency_key_key"),
        schema=S,
    )
    op.create_table(
        "reports",
        sa.Column("report_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("experiment", sa.Text, nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("body", pg.JSONB, nullable=False),
        schema=S,
    )
    op.create_index(
        "reports_experiment_phase_generated", "reports", ["experiment", "phase", "generated_at"], schema=S
    )


def downgrade() -> None:
    for table in ("reports", "documents", "observations", "job_events", "trial_jobs"):
        op.drop_table(table, schema=S)
    for table in ("unit_overrides", "experiment_phases", "experiments"):
        op.drop_table(table, schema=S)
