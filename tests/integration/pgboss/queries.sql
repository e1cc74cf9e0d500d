-- Test-only statements: read and age pg-boss rows so tests need not sleep through real intervals.

-- name: job_row
-- One job's state and timing, as the tests check it.
SELECT id, name, state, retry_count, retry_limit, priority, output, singleton_key, singleton_on,
  dead_letter, source_name, source_id, retry_delay, expire_seconds, keep_until, data,
  EXTRACT(EPOCH FROM (start_after - now()))::float8 AS start_after_in
FROM __SCHEMA__.job WHERE id = %(id)s::uuid

-- name: jobs_of
-- Every job of a queue, oldest first.
SELECT id, state, retry_count, output, data, source_name, source_id, singleton_on, retry_limit
FROM __SCHEMA__.job WHERE name = %(name)s ORDER BY created_on, id

-- name: age_job
-- Move a job's clocks back by a number of seconds (started, heartbeat, completed, keep_until).
UPDATE __SCHEMA__.job SET
  started_on = started_on - make_interval(secs => %(seconds)s),
  heartbeat_on = heartbeat_on - make_interval(secs => %(seconds)s),
  completed_on = completed_on - make_interval(secs => %(seconds)s),
  keep_until = keep_until - make_interval(secs => %(seconds)s),
  start_after = start_after - make_interval(secs => %(seconds)s)
WHERE id = %(id)s::uuid

-- name: set_version
-- Pretend the schema holds another pg-boss version.
UPDATE __SCHEMA__.version SET version = %(version)s

-- name: enum_labels
-- The job_state enum labels in their sort order.
SELECT e.enumlabel AS label
FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %(schema)s AND t.typname = 'job_state'
ORDER BY e.enumsortorder

-- name: index_names
-- Index names of a schema.
SELECT indexname FROM pg_indexes WHERE schemaname = %(schema)s ORDER BY indexname

-- name: terminate
-- Kill a backend (the LISTEN connection) to simulate a lost connection.
SELECT pg_terminate_backend(%(pid)s)

-- name: trial_job
-- A trial job's recorded outcome.
SELECT outcome, attempts, error_kind, document_id FROM bakeoff.trial_jobs WHERE trial_job_id = %(id)s

-- name: get_version
-- The schema's recorded pg-boss version.
SELECT version FROM __SCHEMA__.version

-- name: db_now
-- The database clock.
SELECT now() AS now

-- name: plan_cache_mode
-- The plan_cache_mode of the session that runs this.
SELECT current_setting('plan_cache_mode') AS mode

-- name: prepared_plans
-- The statements prepared on this session and how often each ran with a generic or a custom plan.
SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements

-- name: inserted_rows
-- Every column of a queue's jobs that does not name the job or its moment, plus how its clocks relate.
SELECT data, priority, state, retry_limit, retry_count, retry_delay, retry_backoff, retry_delay_max,
  expire_seconds, deletion_seconds, singleton_key, singleton_on, group_id, group_tier, policy,
  dead_letter, heartbeat_seconds, blocked, blocking, pending_dependencies, started_on, completed_on,
  output, source_name, source_id, upsert_by_key, heartbeat_on,
  keep_until - start_after AS kept_for, start_after = created_on AS starts_when_created
FROM __SCHEMA__.job WHERE name = %(name)s ORDER BY data::text NULLS FIRST, id

-- name: set_queue_policy
-- Change a queue's policy behind an instance's back (as another instance deleting and re-creating it would).
UPDATE __SCHEMA__.queue SET policy = %(policy)s WHERE name = %(name)s
