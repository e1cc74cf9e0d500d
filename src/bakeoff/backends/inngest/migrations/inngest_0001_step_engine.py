"""inngest schema: events, runs, memoized steps, attempts, the work queue, waits and flow-control state.

Revision ID: inngest_0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "inngest_0001"
down_revision = None
branch_labels = ("inngest",)
depends_on = "bakeoff_0001"

DDL = """
CREATE SCHEMA IF NOT EXISTS inngest;

-- Every event ever sent, duplicates included (they are history, they just trigger nothing).
CREATE TABLE inngest.events (
    internal_id bigserial PRIMARY KEY,
    id text NOT NULL,
    name text NOT NULL,
    data jsonb NOT NULL,
    ts bigint NOT NULL,
    duplicate boolean NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_id_idx ON inngest.events (id);
CREATE INDEX events_name_idx ON inngest.events (name, received_at);

-- One row per function run: its trigger, status, output or error, and the counters the limits need.
CREATE TABLE inngest.runs (
    run_id uuid PRIMARY KEY,
    app_id text NOT NULL,
    fn_id text NOT NULL,
    event_id text,
    event jsonb NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    output jsonb,
    error jsonb,
    step_count integer NOT NULL DEFAULT 0,
    state_size bigint NOT NULL DEFAULT 0,
    ckeys text[] NOT NULL DEFAULT '{}',
    climits integer[] NOT NULL DEFAULT '{}',
    parent_run_id uuid,
    parent_step text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    scheduled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz,
    ended_at timestamptz
);
CREATE INDEX runs_event_idx ON inngest.runs (event_id);
CREATE INDEX runs_fn_status_idx ON inngest.runs (fn_id, status, created_at DESC);
CREATE INDEX runs_created_idx ON inngest.runs (created_at DESC);

-- Memoized steps: the stored result (or final error) each replay returns without re-running.
CREATE TABLE inngest.steps (
    run_id uuid NOT NULL REFERENCES inngest.runs (run_id) ON DELETE CASCADE,
    step_key text NOT NULL,
    step_id text NOT NULL,
    hashed_id text NOT NULL,
    op text NOT NULL,
    status text NOT NULL CHECK (status IN ('waiting', 'completed', 'failed')),
    opts jsonb,
    output jsonb,
    error jsonb,
    attempts integer NOT NULL DEFAULT 0,
    seq bigserial,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz,
    ended_at timestamptz,
    PRIMARY KEY (run_id, step_key)
);

-- Every attempt of a step (and every function-level error), for the run timeline.
CREATE TABLE inngest.attempts (
    id bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES inngest.runs (run_id) ON DELETE CASCADE,
    step_key text,
    attempt integer NOT NULL,
    queued_at timestamptz NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    ok boolean NOT NULL,
    error jsonb,
    worker text NOT NULL
);
CREATE INDEX attempts_run_idx ON inngest.attempts (run_id, id);

-- Work: one item per invocation to make. Claimed with SKIP LOCKED under a lease.
CREATE TABLE inngest.queue (
    id bigserial PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES inngest.runs (run_id) ON DELETE CASCADE,
    fn_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('discover', 'execute', 'resume')),
    target_step text,
    attempt integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until timestamptz,
    lease_owner text,
    ckeys text[] NOT NULL DEFAULT '{}',
    climits integer[] NOT NULL DEFAULT '{}'
);
CREATE INDEX queue_due_idx ON inngest.queue (run_at, id);
CREATE INDEX queue_run_idx ON inngest.queue (run_id);
CREATE INDEX queue_leased_keys_idx ON inngest.queue USING gin (ckeys) WHERE lease_owner IS NOT NULL;

-- Runs paused on wait_for_event or invoke, matched by incoming events or a finishing child run.
CREATE TABLE inngest.waits (
    run_id uuid NOT NULL REFERENCES inngest.runs (run_id) ON DELETE CASCADE,
    step_key text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('event', 'invoke')),
    event_name text,
    if_exp text,
    child_run_id uuid,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, step_key)
);
CREATE INDEX waits_event_idx ON inngest.waits (event_name) WHERE kind = 'event';
CREATE INDEX waits_child_idx ON inngest.waits (child_run_id) WHERE kind = 'invoke';

-- GCRA state for rate limits, throttles, idempotency keys and event-id de-duplication.
CREATE TABLE inngest.flow_state (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
);

-- Debounced runs not yet started: one per function + key.
CREATE TABLE inngest.debounces (
    key text PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES inngest.runs (run_id) ON DELETE CASCADE,
    first_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Cron schedules: the next fire time of every cron-triggered function.
CREATE TABLE inngest.crons (
    fn_id text NOT NULL,
    cron text NOT NULL,
    next_at timestamptz NOT NULL,
    PRIMARY KEY (fn_id, cron)
);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS inngest CASCADE")
