-- The dashboard's reads: the overview's aggregates, the job search, and each arm's own view of a job.
-- Writes go through the arms' public APIs, the Router and the Recorder; the dashboard writes nothing itself.

-- name: assigned_counts
-- The sample-ratio check: jobs of the phase per assigned arm (every reason, as the report counts them).
SELECT assigned_arm AS arm, count(*) AS jobs
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND phase = :phase
GROUP BY assigned_arm

-- name: phase_arm_counts
-- Per served arm in the phase: submitted, open, completed, failed, cancelled.
SELECT served_arm AS arm,
       count(*) AS submitted,
       count(*) FILTER (WHERE outcome IS NULL) AS open,
       count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'failed') AS failed,
       count(*) FILTER (WHERE outcome = 'cancelled') AS cancelled
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND phase = :phase
GROUP BY served_arm

-- name: phase_latencies
-- End-to-end latencies (ms) of the phase's finished jobs per served arm, sorted (for quantiles and the ECDF).
SELECT served_arm AS arm,
       -- float8, not extract's numeric: psycopg turns numeric into Decimal, 100,000 times over
       array_agg(CAST(extract(epoch FROM finished_at - submitted_at) * 1000 AS float8)
                 ORDER BY finished_at - submitted_at) AS latencies_ms
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND phase = :phase AND finished_at IS NOT NULL AND outcome = 'completed'
GROUP BY served_arm

-- name: daily_series
-- Per UTC day and served arm: jobs submitted, jobs failed, and the median latency of completed jobs (ms).
SELECT date_trunc('day', submitted_at AT TIME ZONE 'UTC') AS day, served_arm AS arm,
       count(*) AS jobs,
       count(*) FILTER (WHERE outcome = 'failed') AS failed,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CAST(extract(epoch FROM finished_at - submitted_at) * 1000 AS float8)
       ) FILTER (WHERE outcome = 'completed') AS p50_ms
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND phase = :phase
GROUP BY 1, 2
ORDER BY 1, 2

-- name: latest_report
-- The newest stored report of the experiment's phase (what `bakeoff report` wrote).
SELECT report_id, generated_at, verdict, body
FROM bakeoff.reports
WHERE experiment = :experiment AND phase = :phase
ORDER BY generated_at DESC, report_id DESC
LIMIT 1

-- name: search_jobs
-- One page of trial jobs matching the filters (NULL = any), newest first.
SELECT trial_job_id, phase, unit_key, assigned_arm, served_arm, assignment_reason, backend_job_id, url,
       submitted_at, started_at, finished_at, attempts, outcome, error_kind, error_message, document_id,
       CAST(extract(epoch FROM finished_at - submitted_at) * 1000 AS float8) AS latency_ms,
       count(*) OVER () AS total
FROM bakeoff.trial_jobs
WHERE experiment = :experiment
  AND (CAST(:url AS text) IS NULL OR url ILIKE '%' || CAST(:url AS text) || '%')
  AND (CAST(:unit_key AS text) IS NULL OR unit_key = :unit_key)
  AND (CAST(:trial_job_id AS uuid) IS NULL OR trial_job_id = CAST(:trial_job_id AS uuid))
  AND (CAST(:arm AS text) IS NULL OR served_arm = :arm)
  AND (CAST(:outcome AS text) IS NULL
       OR (CAST(:outcome AS text) = 'open' AND outcome IS NULL) OR outcome = :outcome)
  AND (CAST(:error_kind AS text) IS NULL OR error_kind = :error_kind)
  AND (CAST(:since AS timestamptz) IS NULL OR submitted_at >= CAST(:since AS timestamptz))
  AND (CAST(:until AS timestamptz) IS NULL OR submitted_at < CAST(:until AS timestamptz))
ORDER BY submitted_at DESC, trial_job_id
LIMIT :limit OFFSET :offset

-- name: error_kinds
-- The error kinds the experiment's jobs have, for the search form's choices.
SELECT DISTINCT error_kind FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND error_kind IS NOT NULL
ORDER BY error_kind

-- name: job_events
-- One job's events in order, with the time since the previous one (ms).
SELECT at, event, attempt, detail,
       extract(epoch FROM at - lag(at) OVER (ORDER BY at, event_id)) * 1000 AS since_previous_ms
FROM bakeoff.job_events
WHERE trial_job_id = :trial_job_id
ORDER BY at, event_id

-- name: table_exists
-- Whether an arm's table is installed (pg-boss installs its schema on first start).
SELECT to_regclass(:table_name) IS NOT NULL AS present

-- name: legacy_chain
-- Every legacy.job row of the trial job: the first row and its manual retries (original_job_id chain).
WITH RECURSIVE chain AS (
    SELECT * FROM legacy.job
    WHERE trial_job_id = :trial_job_id OR id = CAST(:backend_job_id AS uuid)
    UNION
    SELECT j.* FROM legacy.job j JOIN chain c ON j.original_job_id = c.id
)
SELECT id, status, attempt, original_job_id, worker_id, pid, exit_code, progress, result, error_kind, error,
       created_at, started_at, finished_at, updated_at
FROM chain
ORDER BY attempt, created_at

-- name: pgboss_job
-- The pg-boss job row of the trial job and, when it failed into one, its dead-letter copy (source_id).
SELECT name, id, state::text AS state, retry_count, retry_limit, retry_delay, retry_backoff, start_after,
       created_on, started_on, completed_on, expire_seconds, singleton_key, singleton_on, dead_letter,
       output, data, source_name, source_id, keep_until, heartbeat_on
FROM pgboss.job
WHERE id = CAST(:backend_job_id AS uuid) OR source_id = CAST(:backend_job_id AS uuid)
ORDER BY source_id NULLS FIRST, created_on

-- name: inngest_run
-- The inngest run of the trial job and its triggering event.
SELECT r.run_id, r.fn_id, r.status, r.event, r.output, r.error, r.step_count, r.created_at, r.scheduled_at,
       r.started_at, r.ended_at, e.received_at AS event_received_at
FROM inngest.runs r
LEFT JOIN inngest.events e ON e.id = r.event_id
WHERE r.run_id = CAST(:backend_job_id AS uuid)
ORDER BY e.received_at
LIMIT 1

-- name: inngest_steps
-- The run's memoized steps (the memo), in the order they were first planned.
SELECT step_key, step_id, op, status, opts, output, error, attempts, created_at, started_at, ended_at
FROM inngest.steps
WHERE run_id = CAST(:backend_job_id AS uuid)
ORDER BY seq

-- name: inngest_attempts
-- Every attempt of every step of the run (the waterfall), with its offset from the run's creation (ms).
SELECT a.step_key, a.attempt, a.queued_at, a.started_at, a.ended_at, a.ok, a.error, a.worker,
       extract(epoch FROM a.started_at - r.created_at) * 1000 AS start_offset_ms,
       extract(epoch FROM a.ended_at - a.started_at) * 1000 AS duration_ms
FROM inngest.attempts a JOIN inngest.runs r ON r.run_id = a.run_id
WHERE a.run_id = CAST(:backend_job_id AS uuid)
ORDER BY a.id

-- name: inngest_waits
-- What the run is waiting on (an event or an invoked run), and until when.
SELECT step_key, kind, event_name, if_exp, child_run_id, expires_at, created_at
FROM inngest.waits
WHERE run_id = CAST(:backend_job_id AS uuid)

-- name: document
-- One saved document.
SELECT document_id, trial_job_id, url, final_url, title, author, published, language, word_count,
       content_sha256, fetched_bytes, created_at, left(text, 4000) AS text_start
FROM bakeoff.documents
WHERE document_id = :document_id

-- name: stuck_legacy
-- legacy rows RUNNING for longer than the threshold (a worker that died leaves them so; reap fails them).
SELECT j.id, j.trial_job_id, j.attempt, j.worker_id, j.pid, j.progress, j.started_at,
       extract(epoch FROM clock_timestamp() - j.started_at) * 1000 AS running_ms, t.url
FROM legacy.job j LEFT JOIN bakeoff.trial_jobs t ON t.trial_job_id = j.trial_job_id
WHERE j.status = 'RUNNING' AND j.started_at < clock_timestamp() - make_interval(secs => :older_than_seconds)
ORDER BY j.started_at
LIMIT 100

-- name: stuck_pgboss
-- pg-boss jobs that need a person: active past their expiry, waiting to retry, failed, or dead-lettered.
SELECT j.name, j.id, j.state::text AS state, j.retry_count, j.retry_limit, j.started_on, j.start_after,
       j.source_id, t.trial_job_id, COALESCE(t.url, j.data ->> 'url') AS url,
       CASE WHEN j.state = 'active' THEN 'active past expiry'
            WHEN j.source_id IS NOT NULL THEN 'dead-lettered'
            WHEN j.state = 'retry' THEN 'in retry' ELSE 'failed' END AS why
FROM pgboss.job j
LEFT JOIN bakeoff.trial_jobs t
       ON t.backend_job_id = COALESCE(j.source_id, j.id)::text AND t.served_arm = 'pgboss'
WHERE (j.state = 'active' AND j.started_on + make_interval(secs => j.expire_seconds) < now())
   OR j.state IN ('retry', 'failed')
   OR (j.source_id IS NOT NULL AND j.state IN ('created', 'retry'))
ORDER BY j.created_on
LIMIT 100

-- name: stuck_inngest
-- inngest runs whose lease ran out, that wait on an event, or that have been queued longer than the threshold.
SELECT r.run_id, r.status, r.created_at, t.trial_job_id, t.url,
       CASE WHEN w.run_id IS NOT NULL THEN 'waits on ' || w.kind || COALESCE(' ' || w.event_name, '')
            WHEN q.lease_until < clock_timestamp() THEN 'lease ran out'
            ELSE 'queued, not started' END AS why
FROM inngest.runs r
LEFT JOIN inngest.waits w ON w.run_id = r.run_id
LEFT JOIN LATERAL (SELECT max(lease_until) AS lease_until FROM inngest.queue WHERE run_id = r.run_id) q ON true
LEFT JOIN bakeoff.trial_jobs t ON t.backend_job_id = r.run_id::text AND t.served_arm = 'inngest'
WHERE r.status IN ('queued', 'running')
  AND (w.run_id IS NOT NULL OR q.lease_until < clock_timestamp()
       OR r.created_at < clock_timestamp() - make_interval(secs => :older_than_seconds))
ORDER BY r.created_at
LIMIT 100

-- name: backlog_legacy
-- legacy: rows waiting to run, and the age of the oldest (ms).
SELECT count(*) AS waiting, extract(epoch FROM clock_timestamp() - min(created_at)) * 1000 AS oldest_ms
FROM legacy.job WHERE status = 'PENDING'

-- name: backlog_pgboss
-- pg-boss: jobs waiting to run (created or retry), and the age of the oldest (ms).
SELECT count(*) AS waiting, extract(epoch FROM now() - min(created_on)) * 1000 AS oldest_ms
FROM pgboss.job WHERE state IN ('created', 'retry')

-- name: backlog_inngest
-- inngest: queue items due, and the age of the oldest (ms).
SELECT count(*) AS waiting, extract(epoch FROM clock_timestamp() - min(run_at)) * 1000 AS oldest_ms
FROM inngest.queue WHERE run_at <= clock_timestamp() AND lease_owner IS NULL

-- name: latest_served_job
-- The arm's most recent job in the experiment's current phase: where an arm-wide action is filed.
SELECT t.trial_job_id
FROM bakeoff.trial_jobs t
JOIN bakeoff.experiments e ON e.name = t.experiment AND e.phase = t.phase
WHERE t.experiment = :experiment AND t.served_arm = :arm
ORDER BY t.submitted_at DESC
LIMIT 1
