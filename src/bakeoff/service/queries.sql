-- The HTTP service's reads: one trial job, per-arm counts, readiness, and the /metrics aggregates.
-- Writes go through the Router and the ExperimentStore; the service itself writes nothing.

-- name: select_trial_job
-- One trial job's lifecycle row, with its derived durations in milliseconds.
SELECT trial_job_id, experiment, phase, unit_key, assigned_arm, served_arm, assignment_reason,
       backend_job_id, url, idempotency_key, submitted_at, enqueued_at, started_at, finished_at, attempts,
       outcome, error_kind, error_message, document_id,
       extract(epoch FROM started_at - submitted_at) * 1000 AS queue_wait_ms,
       extract(epoch FROM finished_at - started_at) * 1000 AS run_time_ms,
       extract(epoch FROM finished_at - submitted_at) * 1000 AS latency_ms
FROM bakeoff.trial_jobs
WHERE trial_job_id = :trial_job_id

-- name: arm_counts
-- Jobs of one experiment per served arm: routed, by reason, still open, and by outcome.
SELECT served_arm AS arm,
       count(*) AS submitted,
       count(*) FILTER (WHERE assignment_reason = 'hash') AS hash,
       count(*) FILTER (WHERE assignment_reason = 'override') AS override,
       count(*) FILTER (WHERE assignment_reason = 'killed') AS killed,
       count(*) FILTER (WHERE assignment_reason = 'fallback') AS fallback,
       count(*) FILTER (WHERE outcome IS NULL) AS open,
       count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'failed') AS failed,
       count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled
FROM bakeoff.trial_jobs
WHERE experiment = :experiment
GROUP BY served_arm
ORDER BY served_arm

-- name: ping
-- Readiness: the database answers.
SELECT 1 AS ok

-- name: job_counts
-- /metrics: jobs per experiment, served arm, assigned arm, reason, outcome and error kind (NULL = all experiments).
SELECT experiment, served_arm, assigned_arm, assignment_reason, outcome, error_kind, count(*) AS jobs
FROM bakeoff.trial_jobs
WHERE (CAST(:experiment AS text) IS NULL OR experiment = :experiment)
GROUP BY experiment, served_arm, assigned_arm, assignment_reason, outcome, error_kind

-- name: duration_buckets
-- /metrics: queue wait, run time and end-to-end latency per experiment and served arm, counted into the
-- histogram's buckets (bucket i = the first upper bound >= the duration; len(bounds) = +Inf), with sums.
WITH durations AS (
    SELECT experiment, served_arm, 'queue_wait' AS kind, extract(epoch FROM started_at - submitted_at) AS seconds
    FROM bakeoff.trial_jobs
    WHERE started_at IS NOT NULL AND (CAST(:experiment AS text) IS NULL OR experiment = :experiment)
    UNION ALL
    SELECT experiment, served_arm, 'run_time', extract(epoch FROM finished_at - started_at)
    FROM bakeoff.trial_jobs
    WHERE started_at IS NOT NULL AND finished_at IS NOT NULL
      AND (CAST(:experiment AS text) IS NULL OR experiment = :experiment)
    UNION ALL
    SELECT experiment, served_arm, 'latency', extract(epoch FROM finished_at - submitted_at)
    FROM bakeoff.trial_jobs
    WHERE finished_at IS NOT NULL AND (CAST(:experiment AS text) IS NULL OR experiment = :experiment)
)
SELECT experiment, served_arm, kind,
       (SELECT count(*) FROM unnest(CAST(:bounds AS double precision[])) AS bound WHERE bound < seconds) AS bucket,
       count(*) AS jobs, sum(seconds) AS seconds
FROM durations
GROUP BY experiment, served_arm, kind, bucket

-- name: experiment_phases
-- /metrics: every experiment's current phase and killed arms (NULL = all experiments).
SELECT name, phase, arms, killed_arms
FROM bakeoff.experiments
WHERE (CAST(:experiment AS text) IS NULL OR name = :experiment)
