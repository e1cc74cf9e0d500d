-- The legacy arm's SQL: the home-made job table, polled and claimed the way the current system does.

-- name: insert_job
-- Enqueue one job as PENDING (runs inside the router's transaction when submitted through the adapter).
INSERT INTO legacy.job (handler, payload, trial_job_id, attempt, original_job_id)
VALUES (:handler, CAST(:payload AS jsonb), :trial_job_id, :attempt, :original_job_id)
RETURNING id

-- name: claim_next_job
-- Race-safe claim without SKIP LOCKED: a racing claimer blocks on the row lock, re-checks status and gets nothing.
UPDATE legacy.job
SET status = 'RUNNING', started_at = clock_timestamp(), updated_at = clock_timestamp(), worker_id = :worker_id
WHERE id = (
    SELECT id FROM legacy.job WHERE status = 'PENDING' ORDER BY created_at, id LIMIT 1
)
  AND status = 'PENDING'
RETURNING id, status, handler, payload, trial_job_id, attempt, original_job_id, worker_id, pid, exit_code,
          progress, result, error_kind, error, created_at, started_at, finished_at

-- name: get_job
-- One job by id.
SELECT id, status, handler, payload, trial_job_id, attempt, original_job_id, worker_id, pid, exit_code,
       progress, result, error_kind, error, created_at, started_at, finished_at
FROM legacy.job WHERE id = :id

-- name: list_jobs
-- The most recent jobs, newest first (for `bakeoff legacy jobs`).
SELECT id, status, handler, payload, trial_job_id, attempt, original_job_id, worker_id, pid, exit_code,
       progress, result, error_kind, error, created_at, started_at, finished_at
FROM legacy.job
WHERE (CAST(:status AS text) IS NULL OR status = :status)
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: set_pid
-- The parent spawned the child process for a RUNNING job.
UPDATE legacy.job SET pid = :pid, updated_at = clock_timestamp() WHERE id = :id AND status = 'RUNNING'

-- name: set_progress
-- A PROGRESS line from the child.
UPDATE legacy.job SET progress = :progress, updated_at = clock_timestamp() WHERE id = :id AND status = 'RUNNING'

-- name: mark_completed
-- The child reported a result; the exit code is kept as reported (1 under crash_after_complete).
UPDATE legacy.job
SET status = 'COMPLETED', result = CAST(:result AS jsonb), exit_code = :exit_code,
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE id = :id AND status = 'RUNNING'
RETURNING id

-- name: mark_failed
-- The child reported an error, crashed, timed out or spoke garbage.
UPDATE legacy.job
SET status = 'FAILED', error_kind = :error_kind, error = :error, exit_code = :exit_code,
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE id = :id AND status = 'RUNNING'
RETURNING id

-- name: cancel_pending
-- The legacy system has no cancel state: a PENDING job is failed with error_kind 'cancelled'.
UPDATE legacy.job
SET status = 'FAILED', error_kind = 'cancelled', error = 'cancelled before it started',
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE id = :id AND status = 'PENDING'
RETURNING id, trial_job_id, attempt

-- name: reap_stale_running
-- Manual recovery: RUNNING rows older than the cut-off (their worker is presumed dead) become FAILED.
UPDATE legacy.job
SET status = 'FAILED', error_kind = 'worker_lost',
    error = 'reaped: RUNNING since ' || CAST(started_at AS text) || ' with no live worker',
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE status = 'RUNNING' AND started_at < clock_timestamp() - make_interval(secs => :older_than_seconds)
RETURNING id, trial_job_id, attempt

-- name: latest_in_chain
-- The newest row of the retry chain that starts at :id (the job itself when it was never retried).
WITH RECURSIVE chain AS (
    SELECT id, status, error_kind, 0 AS depth FROM legacy.job WHERE id = :id
    UNION ALL
    SELECT j.id, j.status, j.error_kind, c.depth + 1
    FROM legacy.job j JOIN chain c ON j.original_job_id = c.id
    WHERE c.depth < 1000
)
SELECT id, status, error_kind, depth FROM chain ORDER BY depth DESC, id LIMIT 1

-- name: count_by_status
-- Queue depth for health and the adaptive processor.
SELECT status, count(*) AS n FROM legacy.job WHERE status IN ('PENDING', 'RUNNING') GROUP BY status

-- name: count_pending
-- The backlog the adaptive processor scales on.
SELECT count(*) FROM legacy.job WHERE status = 'PENDING'

-- name: settled_since
-- Rows that ended after a moment and are the last of their retry chain (a FAILED row with a retry is
-- not the job's end), with what the trial records: the catch-up pass of the arm's live workers records
-- outcomes a worker that died between writing the row and recording the outcome left behind.
SELECT j.id, j.trial_job_id, j.status, j.error_kind, j.error, j.result ->> 'document_id' AS document_id,
       j.finished_at
FROM legacy.job j
WHERE j.status IN ('COMPLETED', 'FAILED') AND j.finished_at > :since AND j.trial_job_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM legacy.job r WHERE r.original_job_id = j.id)
ORDER BY j.finished_at
