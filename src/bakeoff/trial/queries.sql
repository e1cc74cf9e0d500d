-- The trial runner's SQL: progress of a trial and the per-job log lines of a worker process.

-- name: progress_by_arm
-- Submitted and finished trial jobs of one experiment, per served arm.
SELECT served_arm,
       count(*) AS submitted,
       count(*) FILTER (WHERE outcome IS NOT NULL) AS finished,
       count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'failed') AS failed
FROM bakeoff.trial_jobs
WHERE experiment = :experiment
GROUP BY served_arm
ORDER BY served_arm

-- name: open_jobs
-- Trial jobs of one experiment that have not reached a terminal state.
SELECT trial_job_id, served_arm, backend_job_id, url, attempts, submitted_at
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND outcome IS NULL
ORDER BY submitted_at

-- name: documents_for_experiment
-- Documents saved for the completed jobs of one experiment, and saved documents of failed ones (must be none).
SELECT
    count(*) FILTER (WHERE t.outcome = 'completed' AND d.document_id IS NOT NULL) AS completed_with_document,
    count(*) FILTER (WHERE t.outcome = 'completed') AS completed,
    count(*) FILTER (WHERE t.outcome <> 'completed' AND d.document_id IS NOT NULL) AS not_completed_with_document
FROM bakeoff.trial_jobs t
LEFT JOIN bakeoff.documents d ON d.trial_job_id = t.trial_job_id
WHERE t.experiment = :experiment

-- name: database_now
-- The database clock.
SELECT clock_timestamp() AS now

-- name: inngest_steps_in_flight
-- Queue items of the Inngest-style engine leased by a worker right now (read-only, for the stress run).
SELECT count(*) FROM inngest.queue WHERE lease_owner IS NOT NULL AND lease_until > clock_timestamp()
