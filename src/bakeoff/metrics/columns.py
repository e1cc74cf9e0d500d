"""Column names of the trial export format (contract): CSV, Parquet and DataFrame all use these."""

from __future__ import annotations

TRIAL_JOB_ID = "trial_job_id"
EXPERIMENT = "experiment"
PHASE = "phase"
UNIT_KEY = "unit_key"
ASSIGNED_ARM = "assigned_arm"
SERVED_ARM = "served_arm"
ASSIGNMENT_REASON = "assignment_reason"
BACKEND_JOB_ID = "backend_job_id"
URL = "url"
SUBMITTED_AT = "submitted_at"
ENQUEUED_AT = "enqueued_at"
STARTED_AT = "started_at"
FINISHED_AT = "finished_at"
ATTEMPTS = "attempts"
OUTCOME = "outcome"
ERROR_KIND = "error_kind"
ERROR_MESSAGE = "error_message"
DOCUMENT_ID = "document_id"

QUEUE_WAIT_MS = "queue_wait_ms"
RUN_TIME_MS = "run_time_ms"
LATENCY_MS = "latency_ms"

STORED_COLUMNS = (
    TRIAL_JOB_ID,
    EXPERIMENT,
    PHASE,
    UNIT_KEY,
    ASSIGNED_ARM,
    SERVED_ARM,
    ASSIGNMENT_REASON,
    BACKEND_JOB_ID,
    URL,
    SUBMITTED_AT,
    ENQUEUED_AT,
    STARTED_AT,
    FINISHED_AT,
    ATTEMPTS,
    OUTCOME,
    ERROR_KIND,
    ERROR_MESSAGE,
    DOCUMENT_ID,
)
"""The columns stored in ``bakeoff.trial_jobs`` and written to every export, in this order."""

DERIVED_COLUMNS = (QUEUE_WAIT_MS, RUN_TIME_MS, LATENCY_MS)
"""Computed on load: queue wait = started - submitted, run time = finished - started,
latency = finished - submitted."""

TIMESTAMP_COLUMNS = (SUBMITTED_AT, ENQUEUED_AT, STARTED_AT, FINISHED_AT)

OUTCOMES = ("completed", "failed", "cancelled")
ASSIGNMENT_REASONS = ("hash", "override", "killed", "fallback")
