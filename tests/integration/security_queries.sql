-- Read-backs of the security tests: what the injection corpus left in each text column.

-- name: trial_job_texts
-- The stored text fields of one trial job, in a fixed order.
SELECT unnest(ARRAY[experiment, url, unit_key, idempotency_key])
FROM bakeoff.trial_jobs WHERE trial_job_id = :trial_job_id

-- name: observation_texts
-- Note and author of the observations with this note.
SELECT unnest(ARRAY[note, recorded_by]) FROM bakeoff.observations WHERE note = :note

-- name: pgboss_job_text
-- The text field of a pg-boss job's payload.
SELECT data ->> 'text' FROM pgboss.job WHERE id = CAST(:job_id AS uuid)

-- name: inngest_event_text
-- The text field of a stored event's data.
SELECT data ->> 'text' FROM inngest.events WHERE id = :event_id

-- name: tables_intact
-- Every table the corpus aims at still exists.
SELECT CASE WHEN to_regclass('bakeoff.trial_jobs') IS NOT NULL AND to_regclass('bakeoff.documents') IS NOT NULL
             AND to_regclass('pgboss.job') IS NOT NULL AND to_regclass('inngest.events') IS NOT NULL
            THEN 'ok' ELSE 'broken' END
