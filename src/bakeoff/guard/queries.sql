-- The guard's SQL: per-experiment guardrail settings, the lock that lets one process act, and the
-- records a kill leaves (a job event and an observation).

-- name: upsert_settings
-- Store an experiment's guardrail settings (enable, disable or retune).
INSERT INTO bakeoff.guardrail_settings
    (experiment, enabled, failure_margin, latency_ratio, alpha, min_jobs, updated_at)
VALUES (:experiment, :enabled, :failure_margin, :latency_ratio, :alpha, :min_jobs, clock_timestamp())
ON CONFLICT (experiment) DO UPDATE
SET enabled = excluded.enabled, failure_margin = excluded.failure_margin,
    latency_ratio = excluded.latency_ratio, alpha = excluded.alpha, min_jobs = excluded.min_jobs,
    updated_at = excluded.updated_at
RETURNING experiment, enabled, failure_margin, latency_ratio, alpha, min_jobs, updated_at

-- name: select_settings
-- One experiment's guardrail settings (no row: never configured, so off).
SELECT experiment, enabled, failure_margin, latency_ratio, alpha, min_jobs, updated_at
FROM bakeoff.guardrail_settings
WHERE experiment = :experiment

-- name: select_all_settings
-- Every experiment's guardrail settings, enabled or not.
SELECT experiment, enabled, failure_margin, latency_ratio, alpha, min_jobs, updated_at
FROM bakeoff.guardrail_settings
ORDER BY experiment

-- name: try_lock
-- Only one guard acts on an experiment at a time: a transaction-scoped advisory lock, released at
-- commit, so a process that dies never leaves it held.
SELECT pg_try_advisory_xact_lock(hashtext('bakeoff.guard'), hashtext(:experiment)) AS locked

-- name: select_latest_served_job
-- The arm's most recent finished (else submitted) job in the phase: the job the kill event is filed under.
SELECT trial_job_id
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND phase = :phase AND served_arm = :arm
ORDER BY finished_at DESC NULLS LAST, submitted_at DESC
LIMIT 1

-- name: insert_kill_event
-- The kill as a lifecycle event of that job, with every number the guard saw.
INSERT INTO bakeoff.job_events (trial_job_id, at, event, attempt, detail)
VALUES (:trial_job_id, clock_timestamp(), 'guardrail_kill', NULL, CAST(:detail AS jsonb))

-- name: insert_kill_observation
-- The kill as an observation of the arm, so the report lists it beside the statistics.
INSERT INTO bakeoff.observations (experiment, arm, kind, value, note, recorded_by, at)
VALUES (:experiment, :arm, 'guardrail_kill', :value, :note, 'bakeoff guard', clock_timestamp())
RETURNING observation_id

-- name: select_kills
-- The guard's kills of one experiment, oldest first (for the report).
SELECT arm, value, note, at
FROM bakeoff.observations
WHERE experiment = :experiment AND kind = 'guardrail_kill'
ORDER BY at
