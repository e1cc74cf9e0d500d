"""The ``bakeoff`` schema: trial, metrics, documents, experiments and reports, as SQLAlchemy Core tables.

These tables are the models; the Alembic migrations in ``bakeoff/db/migrations`` create them and a
test checks the two never drift. Each backend's own schema (``legacy``, ``pgboss``, ``inngest``) is
owned by that backend and is not described here. Timestamps that feed metrics default to the
database clock (``clock_timestamp()``), never a worker's clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

__all__ = [
    "SCHEMA",
    "consistency_checks",
    "consistency_settings",
    "documents",
    "experiment_phases",
    "experiments",
    "guardrail_settings",
    "job_events",
    "metadata",
    "observations",
    "reports",
    "trial_jobs",
    "unit_overrides",
]

SCHEMA = "bakeoff"
NOW = text("clock_timestamp()")

metadata = MetaData(schema=SCHEMA)

experiments = Table(
    "experiments",
    metadata,
    Column("name", Text, primary_key=True),
    Column("arms", ARRAY(Text), nullable=False),
    Column("weights", ARRAY(Double), nullable=False),
    Column("control", Text, nullable=False),
    Column("salt", Text, nullable=False),
    Column("phase", Integer, nullable=False, server_default=text("1")),
    Column("killed_arms", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("phase >= 1", name="experiments_phase_positive"),
    CheckConstraint("cardinality(arms) = cardinality(weights)", name="experiments_weights_match_arms"),
)

experiment_phases = Table(
    "experiment_phases",
    metadata,
    Column("experiment", Text, ForeignKey("bakeoff.experiments.name", ondelete="CASCADE"), nullable=False),
    Column("phase", Integer, nullable=False),
    Column("weights", ARRAY(Double), nullable=False),
    Column("salt", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    PrimaryKeyConstraint("experiment", "phase", name="experiment_phases_pkey"),
)

unit_overrides = Table(
    "unit_overrides",
    metadata,
    Column("experiment", Text, ForeignKey("bakeoff.experiments.name", ondelete="CASCADE"), nullable=False),
    Column("unit_key", Text, nullable=False),
    Column("arm", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    PrimaryKeyConstraint("experiment", "unit_key", name="unit_overrides_pkey"),
)

trial_jobs = Table(
    "trial_jobs",
    metadata,
    Column("trial_job_id", UUID(as_uuid=True), primary_key=True),
    Column("experiment", Text, nullable=False),
    Column("phase", Integer, nullable=False),
    Column("unit_key", Text, nullable=False),
    Column("assigned_arm", Text, nullable=False),
    Column("served_arm", Text, nullable=False),
    Column("assignment_reason", Text, nullable=False),
    Column("backend_job_id", Text),
    Column("url", Text, nullable=False),
    Column("idempotency_key", Text),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("outcome", Text),
    Column("error_kind", Text),
    Column("error_message", Text),
    Column("document_id", UUID(as_uuid=True)),
    CheckConstraint(
        "assignment_reason IN ('hash', 'override', 'killed', 'fallback')", name="trial_jobs_reason_known"
    ),
    CheckConstraint("outcome IN ('completed', 'failed', 'cancelled')", name="trial_jobs_outcome_known"),
    CheckConstraint("(outcome IS NULL) = (finished_at IS NULL)", name="trial_jobs_outcome_with_finish"),
    CheckConstraint("attempts >= 0", name="trial_jobs_attempts_non_negative"),
    UniqueConstraint("experiment", "idempotency_key", name="trial_jobs_idempotency_key"),
    Index("trial_jobs_experiment_phase_submitted", "experiment", "phase", "submitted_at"),
    Index("trial_jobs_open", "served_arm", postgresql_where=text("outcome IS NULL")),
)

job_events = Table(
    "job_events",
    metadata,
    Column("event_id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "trial_job_id",
        UUID(as_uuid=True),
        ForeignKey("bakeoff.trial_jobs.trial_job_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("event", Text, nullable=False),
    Column("attempt", Integer),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("job_events_trial_job", "trial_job_id", "at"),
)

observations = Table(
    "observations",
    metadata,
    Column("observation_id", BigInteger, Identity(always=True), primary_key=True),
    Column("experiment", Text, nullable=False, server_default=text("'article-import'")),
    Column("arm", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("value", Double, nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
    Column("recorded_by", Text, nullable=False, server_default=text("''")),
    Column("at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

documents = Table(
    "documents",
    metadata,
    Column("document_id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("trial_job_id", UUID(as_uuid=True)),
    Column("idempotency_key", Text),
    Column("url", Text, nullable=False),
    Column("final_url", Text),
    Column("title", Text),
    Column("author", Text),
    Column("published", Text),
    Column("language", Text),
    Column("text", Text, nullable=False),
    Column("word_count", Integer, nullable=False),
    Column("content_sha256", Text, nullable=False),
    Column("fetched_bytes", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    UniqueConstraint("trial_job_id", name="documents_trial_job_id_key"),
    UniqueConstraint("idempotency_key", name="documents_idempotency_key_key"),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", BigInteger, Identity(always=True), primary_key=True),
    Column("experiment", Text, nullable=False),
    Column("phase", Integer, nullable=False),
    Column("generated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("verdict", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    Index("reports_experiment_phase_generated", "experiment", "phase", "generated_at"),
)

guardrail_settings = Table(
    "guardrail_settings",
    metadata,
    Column("experiment", Text, primary_key=True),
    Column("enabled", Boolean, nullable=False, server_default=text("false")),
    Column("failure_margin", Double, nullable=False, server_default=text("0.05")),
    Column("latency_ratio", Double, nullable=False, server_default=text("2.0")),
    Column("alpha", Double, nullable=False, server_default=text("0.05")),
    Column("min_jobs", Integer, nullable=False, server_default=text("30")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("failure_margin > 0 AND failure_margin < 1", name="guardrail_settings_failure_margin"),
    CheckConstraint("latency_ratio > 1", name="guardrail_settings_latency_ratio"),
    CheckConstraint("alpha > 0 AND alpha < 0.5", name="guardrail_settings_alpha"),
    CheckConstraint("min_jobs >= 2", name="guardrail_settings_min_jobs"),
)
"""Per-experiment guardrail settings (``bakeoff guard enable``); no row or ``enabled = false`` = off."""

consistency_settings = Table(
    "consistency_settings",
    metadata,
    Column("experiment", Text, primary_key=True),
    Column("sample_rate", Double, nullable=False, server_default=text("0.05")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("sample_rate >= 0 AND sample_rate <= 1", name="consistency_settings_sample_rate"),
)
"""Per-experiment share of completed imports the consistency pass re-fetches (no row: 5%)."""

consistency_checks = Table(
    "consistency_checks",
    metadata,
    Column("check_id", BigInteger, Identity(always=True), primary_key=True),
    Column("experiment", Text, nullable=False),
    Column("trial_job_id", UUID(as_uuid=True), nullable=False),
    Column("arm", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("identical", Boolean),
    Column("arm_sha256", Text, nullable=False),
    Column("control_sha256", Text),
    Column("control_text", Text),
    Column("error", Text),
    UniqueConstraint("trial_job_id", name="consistency_checks_trial_job_id_key"),
    CheckConstraint("(identical IS NULL) = (error IS NOT NULL)", name="consistency_checks_outcome"),
    Index("consistency_checks_experiment_arm", "experiment", "arm"),
)
"""One re-fetch of a completed import through the control arm's code path, and its verdict."""
