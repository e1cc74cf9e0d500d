-- The SQL of bakeoff.testing: the router's fake arms (router_fake_*), and the read-only statements the
-- fault tests and benchmarks/faults_report.py (bakeoff.testing.faults) use to account for every job.

-- name: router_fake_create
-- The fake arms' job table (public, outside every owner's schema).
CREATE TABLE IF NOT EXISTS public.router_fake_jobs (
    job_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    arm text NOT NULL,
    trial_job_id uuid NOT NULL,
    url text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
)

-- name: router_fake_lock
-- Serialise the table's creation among processes that race to create it.
SELECT pg_advisory_xact_lock(hashtext('bakeoff.router_fake_jobs'))

-- name: router_fake_insert
-- A fake arm's enqueue, in the router's transaction.
INSERT INTO public.router_fake_jobs (arm, trial_job_id, url)
VALUES (:arm, :trial_job_id, :url)
RETURNING job_id

-- name: router_fake_exists
-- Whether a fake job exists.
SELECT 1 FROM public.router_fake_jobs WHERE job_id = CAST(:job_id AS bigint)

-- name: router_fake_delete
-- Cancel (delete) a fake job.
DELETE FROM public.router_fake_jobs WHERE job_id = CAST(:job_id AS bigint) RETURNING job_id

-- name: router_fake_count
-- A fake arm's queue depth.
SELECT count(*) FROM public.router_fake_jobs WHERE arm = :arm

-- name: router_fake_sleep
-- A hanging submit inside the database (the router's statement_timeout ends it).
SELECT pg_sleep(:seconds)

-- name: router_fake_no_timeout
-- Lift the statement timeout, so only the router's client-side watchdog can end a hang.
SET LOCAL statement_timeout = 0

-- name: now
-- The database clock (kill and restart times are compared with finished_at on the same clock).
SELECT clock_timestamp() AS now

-- name: experiment_counts
-- Trial jobs of one experiment: all, terminal, still open, and those enqueued with a backend job id.
SELECT count(*) AS trial_jobs,
       count(*) FILTER (WHERE outcome IS NOT NULL) AS terminal,
       count(*) FILTER (WHERE outcome IS NULL) AS open,
       count(*) FILTER (WHERE backend_job_id IS NOT NULL) AS enqueued
FROM bakeoff.trial_jobs
WHERE experiment = :experiment

-- name: open_trial_jobs
-- Trial jobs of one experiment not yet terminal, with the arm that serves them.
SELECT trial_job_id, served_arm, backend_job_id, url
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND outcome IS NULL
ORDER BY submitted_at

-- name: legacy_queued
-- Open trial jobs of one experiment whose legacy.job row is still PENDING (not yet claimed), in one
-- round trip: the kill run's wait polls this every second while hundreds of jobs are open.
SELECT count(*) AS queued
FROM bakeoff.trial_jobs t
JOIN legacy.job j ON j.id = t.backend_job_id::uuid
WHERE t.experiment = :experiment AND t.outcome IS NULL AND j.status = 'PENDING'

-- name: in_flight
-- Trial jobs of one experiment that have started and not finished (what a kill interrupts).
SELECT trial_job_id
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND started_at IS NOT NULL AND outcome IS NULL

-- name: last_finished_of
-- When the last of the given trial jobs finished (NULL while any is open).
SELECT CASE WHEN bool_and(outcome IS NOT NULL) THEN max(finished_at) END AS finished_at
FROM bakeoff.trial_jobs
WHERE trial_job_id = ANY(:ids)

-- name: first_finished_after_for_arm
-- The first finish of a job of one arm submitted after a moment (routing and working both resumed).
SELECT min(finished_at) AS finished_at
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND served_arm = :arm AND submitted_at > :after AND finished_at IS NOT NULL

-- name: duplicate_documents
-- Extra documents beyond one per URL among the experiment's trial jobs (each URL is routed once).
SELECT coalesce(sum(copies - 1), 0) AS duplicates
FROM (
    SELECT d.url, count(*) AS copies
    FROM bakeoff.documents d
    WHERE d.url = ANY(:urls) OR d.trial_job_id IN (
        SELECT trial_job_id FROM bakeoff.trial_jobs WHERE experiment = :experiment)
    GROUP BY d.url
) per_url
WHERE copies > 1

-- name: urls_of_experiment
-- The URLs routed in one experiment, one row per trial job.
SELECT url FROM bakeoff.trial_jobs WHERE experiment = :experiment

-- name: exposure_event_count
-- 'submitted' and 'enqueued' lifecycle events of one experiment's trial jobs.
SELECT count(*) FILTER (WHERE e.event = 'submitted') AS submitted,
       count(*) FILTER (WHERE e.event = 'enqueued') AS enqueued
FROM bakeoff.job_events e
JOIN bakeoff.trial_jobs t USING (trial_job_id)
WHERE t.experiment = :experiment

-- name: pgboss_jobs_for
-- pg-boss jobs of a queue whose payload names one of the given trial jobs.
SELECT count(*) FROM pgboss.job
WHERE name = :queue AND data ->> 'trial_job_id' = ANY(:ids)

-- name: pgboss_jobs_by_url
-- pg-boss jobs of a queue for the given URLs (a job without its exposure would show here).
SELECT count(*) FROM pgboss.job WHERE name = :queue AND data ->> 'url' = ANY(:urls)

-- name: trial_jobs_by_url
-- Trial jobs for the given URLs.
SELECT count(*) FROM bakeoff.trial_jobs WHERE url = ANY(:urls)

-- name: terminate_other_backends
-- End every other session on this database (what a failover or a network cut does to a client).
SELECT count(pg_terminate_backend(pid)) AS terminated
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'

-- name: hostile_outcomes
-- Outcome and error kind of every trial job of one experiment.
SELECT trial_job_id, outcome, error_kind FROM bakeoff.trial_jobs WHERE experiment = :experiment

-- name: trial_job
-- One trial job's row.
SELECT * FROM bakeoff.trial_jobs WHERE trial_job_id = :trial_job_id

-- name: in_flight_by_arm
-- Trial jobs of one experiment that have started and not finished, with their arm (what a fault hits).
SELECT trial_job_id, served_arm
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND started_at IS NOT NULL AND outcome IS NULL

-- name: open_count_by_arm
-- Trial jobs of one experiment still open, per arm.
SELECT served_arm, count(*) AS open
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND outcome IS NULL
GROUP BY served_arm

-- name: terminal_count
-- Trial jobs of one experiment that have ended.
SELECT count(*) AS terminal FROM bakeoff.trial_jobs WHERE experiment = :experiment AND outcome IS NOT NULL

-- name: legacy_rows_of_experiment
-- The legacy.job rows behind one experiment's open trial jobs: status and the worker that claimed them.
SELECT j.id::text AS id, j.status, j.worker_id
FROM bakeoff.trial_jobs t
JOIN legacy.job j ON j.id = t.backend_job_id::uuid
WHERE t.experiment = :experiment AND t.served_arm = 'legacy' AND t.outcome IS NULL

-- name: service_load_counts
-- One service-load run's experiment: trial jobs, distinct idempotency keys, keys with more than one
-- trial job, trial jobs with a backend job, and 'submitted' exposure events.
SELECT (SELECT count(*) FROM bakeoff.trial_jobs WHERE experiment = :experiment) AS trial_jobs,
       (SELECT count(DISTINCT idempotency_key) FROM bakeoff.trial_jobs WHERE experiment = :experiment) AS keys,
       (SELECT count(*) FROM (
            SELECT idempotency_key FROM bakeoff.trial_jobs WHERE experiment = :experiment
            GROUP BY idempotency_key HAVING count(*) > 1) twice) AS keys_twice,
       (SELECT count(*) FROM bakeoff.trial_jobs
         WHERE experiment = :experiment AND backend_job_id IS NOT NULL) AS enqueued,
       (SELECT count(*) FROM bakeoff.job_events e JOIN bakeoff.trial_jobs t USING (trial_job_id)
         WHERE t.experiment = :experiment AND e.event = 'submitted') AS exposures

-- name: idempotency_keys_of_experiment
-- Every idempotency key one experiment recorded.
SELECT idempotency_key FROM bakeoff.trial_jobs WHERE experiment = :experiment
