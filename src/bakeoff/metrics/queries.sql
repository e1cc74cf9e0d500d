-- The metrics recorder's SQL: lifecycle of one trial job, measured on the database clock.

-- name: insert_routed_job
-- The router's whole record of one routed import, written once the served arm has enqueued it: the
-- trial job with its exposure and its enqueue, plus the 'submitted', 'fallback' (when the assigned arm
-- failed) and 'enqueued' events, in one statement on the hot path of every submit. It is written only
-- while the routing rule the router decided under (phase, salt, killed arms, this unit's override) is
-- still the stored one; otherwise it writes nothing and returns no row, and the router decides again.
-- submitted_at defaults to the start of the transaction: the moment routing began.
WITH rule AS (
    SELECT e.name
    FROM bakeoff.experiments e
    WHERE e.name = :experiment
      AND e.phase = :phase
      AND e.salt = :salt
      AND e.killed_arms @> CAST(:killed_arms AS text[])
      AND e.killed_arms <@ CAST(:killed_arms AS text[])
      AND (CAST(:override_given AS boolean)
           OR (SELECT o.arm FROM bakeoff.unit_overrides o WHERE o.experiment = e.name AND o.unit_key = :unit_key)
              IS NOT DISTINCT FROM CAST(:stored_override AS text))
),
job AS (
    INSERT INTO bakeoff.trial_jobs
        (trial_job_id, experiment, phase, unit_key, assigned_arm, served_arm, assignment_reason,
         url, idempotency_key, backend_job_id, submitted_at, enqueued_at)
    SELECT CAST(:trial_job_id AS uuid), rule.name, :phase, :unit_key, :assigned_arm, :served_arm,
           :assignment_reason, :url, :idempotency_key, :backend_job_id,
           coalesce(CAST(:submitted_at AS timestamptz), transaction_timestamp()), clock_timestamp()
    FROM rule
    RETURNING trial_job_id, submitted_at, enqueued_at
),
events AS (
    INSERT INTO bakeoff.job_events (trial_job_id, at, event, attempt, detail)
    SELECT job.trial_job_id, step.at, step.event, NULL, step.detail
    FROM job
    CROSS JOIN LATERAL (
        VALUES (1, job.submitted_at, 'submitted', CAST(:submitted_detail AS jsonb)),
               (2, CAST(:fallback_at AS timestamptz), 'fallback', CAST(:fallback_detail AS jsonb)),
               (3, job.enqueued_at, 'enqueued', CAST(:enqueued_detail AS jsonb))
    ) AS step (position, at, event, detail)
    WHERE step.at IS NOT NULL
    ORDER BY step.position
)
SELECT trial_job_id FROM job

-- name: mark_attempt_started
-- An attempt began, with its event: started_at is the first attempt's start; attempts only grows.
WITH job AS (
    UPDATE bakeoff.trial_jobs
    SET started_at = coalesce(started_at, clock_timestamp()),
        attempts = greatest(attempts, :attempt)
    WHERE trial_job_id = :trial_job_id
    RETURNING trial_job_id
)
INSERT INTO bakeoff.job_events (trial_job_id, at, event, attempt, detail)
SELECT trial_job_id, clock_timestamp(), 'attempt_started', :attempt, '{}'::jsonb FROM job
RETURNING trial_job_id

-- name: mark_finished
-- The first terminal outcome is final (a repeat matches nothing); recorded with its event. The job
-- comes back as the process's one log line for it (see Recorder.finished).
WITH job AS (
    UPDATE bakeoff.trial_jobs
    SET outcome = :outcome,
        finished_at = clock_timestamp(),
        started_at = coalesce(started_at, CASE WHEN :outcome = 'cancelled' THEN NULL ELSE clock_timestamp() END),
        error_kind = :error_kind,
        error_message = :error_message,
        document_id = :document_id
    WHERE trial_job_id = :trial_job_id AND outcome IS NULL
    RETURNING trial_job_id, experiment, served_arm, backend_job_id, outcome, error_kind, attempts,
              extract(epoch FROM (started_at - submitted_at)) * 1000 AS queue_wait_ms,
              extract(epoch FROM (finished_at - started_at)) * 1000 AS run_time_ms,
              finished_at
), event AS (
    INSERT INTO bakeoff.job_events (trial_job_id, at, event, attempt, detail)
    SELECT trial_job_id, clock_timestamp(), 'finished', NULL, CAST(:detail AS jsonb) FROM job
)
SELECT * FROM job

-- name: get_outcome
-- The stored outcome of one trial job (to tell a repeat from a conflict).
SELECT outcome, error_kind, document_id FROM bakeoff.trial_jobs WHERE trial_job_id = :trial_job_id

-- name: insert_event
-- Append one lifecycle event.
INSERT INTO bakeoff.job_events (trial_job_id, at, event, attempt, detail)
VALUES (:trial_job_id, clock_timestamp(), :event, :attempt, CAST(:detail AS jsonb))

-- name: insert_observation
-- One qualitative observation (setup time, debugging minutes, satisfaction, incident).
INSERT INTO bakeoff.observations (experiment, arm, kind, value, note, recorded_by, at)
VALUES (:experiment, :arm, :kind, :value, :note, :recorded_by, clock_timestamp())
RETURNING observation_id

-- name: select_observations
-- Every observation of one experiment.
SELECT arm, kind, value, note, recorded_by, at FROM bakeoff.observations
WHERE experiment = :experiment ORDER BY at

-- name: select_trial_jobs
-- The export: trial jobs filtered by experiment, phase and submission window (NULL = no filter).
SELECT trial_job_id, experiment, phase, unit_key, assigned_arm, served_arm, assignment_reason,
       backend_job_id, url, submitted_at, enqueued_at, started_at, finished_at, attempts, outcome,
       error_kind, error_message, document_id
FROM bakeoff.trial_jobs
WHERE (CAST(:experiment AS text) IS NULL OR experiment = :experiment)
  AND (CAST(:phase AS integer) IS NULL OR phase = :phase)
  AND (CAST(:since AS timestamptz) IS NULL OR submitted_at >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR submitted_at < :until)
ORDER BY submitted_at, trial_job_id

-- name: select_events
-- The event log of one trial job, oldest first.
SELECT at, event, attempt, detail FROM bakeoff.job_events WHERE trial_job_id = :trial_job_id ORDER BY at, event_id
