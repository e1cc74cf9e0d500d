-- The analysis part's SQL: configured shares, qualitative observations, and stored nightly reports.

-- name: select_phase_shares
-- The arms (in the experiment's order) and the weights configured for one phase.
SELECT e.arms, p.weights
FROM bakeoff.experiment_phases AS p
JOIN bakeoff.experiments AS e ON e.name = p.experiment
WHERE p.experiment = :experiment AND p.phase = :phase

-- name: select_latest_phase
-- The experiment's newest phase with jobs, for a report run without --phase.
SELECT max(phase) AS phase
FROM bakeoff.trial_jobs
WHERE experiment = :experiment

-- name: select_observations
-- Qualitative observations of one experiment (setup time, debugging minutes, satisfaction, incidents).
SELECT arm, kind, value, note, recorded_by, at
FROM bakeoff.observations
WHERE experiment = :experiment
ORDER BY at

-- name: insert_report
-- Store one nightly report's JSON.
INSERT INTO bakeoff.reports (experiment, phase, verdict, body)
VALUES (:experiment, :phase, :verdict, CAST(:body AS jsonb))
RETURNING report_id

-- name: select_report_history
-- Earlier reports of a phase, oldest first, so the report can show how it moved night by night.
SELECT body
FROM bakeoff.reports
WHERE experiment = :experiment AND phase = :phase
ORDER BY generated_at DESC, report_id DESC
LIMIT :limit

-- name: cost_trial_volume
-- Jobs per served arm in one experiment, with attempts, and the span of submissions (for jobs per day).
SELECT served_arm AS arm, count(*) AS jobs,
       count(*) FILTER (WHERE outcome IN ('completed', 'failed')) AS finished,
       coalesce(sum(attempts), 0) AS attempts,
       coalesce(sum(greatest(attempts - 1, 0)), 0) AS retries,
       min(submitted_at) AS first_submitted, max(submitted_at) AS last_submitted
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND assignment_reason <> 'override'
GROUP BY served_arm

-- name: cost_attempt_cpu
-- Worker CPU seconds per served arm: the cpu_s each attempt recorded, summed per job.
SELECT t.served_arm AS arm, count(DISTINCT e.trial_job_id) AS jobs_with_cpu,
       sum(CAST(e.detail ->> 'cpu_s' AS double precision)) AS cpu_s,
       count(*) AS attempts_with_cpu,
       string_agg(DISTINCT e.detail ->> 'cpu_scope', ',') AS scopes
FROM bakeoff.trial_jobs t
JOIN bakeoff.job_events e ON e.trial_job_id = t.trial_job_id
WHERE t.experiment = :experiment AND e.event = 'attempt_finished' AND e.detail ? 'cpu_s'
GROUP BY t.served_arm

-- name: cost_inngest_executions
-- Executions as Inngest bills them, for the experiment's jobs the inngest arm served: one per
-- function run plus one per step execution (every recorded step attempt, retries included).
SELECT count(DISTINCT r.run_id) AS function_runs,
       count(a.id) FILTER (WHERE a.step_key IS NOT NULL) AS step_executions
FROM inngest.runs r
LEFT JOIN inngest.attempts a ON a.run_id = r.run_id
WHERE r.event -> 'data' ->> 'trial_job_id' IN (
    SELECT CAST(trial_job_id AS text) FROM bakeoff.trial_jobs
    WHERE experiment = :experiment AND served_arm = 'inngest'
)

-- name: cost_schema_storage
-- Bytes of one schema's tables with their indexes and TOAST (partitions included).
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')

-- name: cost_schema_rows_written
-- Rows inserted, updated and deleted in one schema since the statistics were last reset.
SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS rows_written
FROM pg_stat_user_tables
WHERE schemaname = :schema

-- name: cost_served_jobs_all
-- Trial jobs an arm served in every experiment (the denominator for schema-wide counters).
SELECT count(*) AS jobs FROM bakeoff.trial_jobs WHERE served_arm = :arm

-- name: cost_retained_legacy
-- Jobs retained by the legacy arm (a retry is a row of its own; counted once per chain).
SELECT count(*) AS units FROM legacy.job WHERE original_job_id IS NULL

-- name: cost_retained_pgboss
-- Jobs retained by the pgboss arm (every partition; a retry reuses its row).
SELECT count(*) AS units FROM pgboss.job

-- name: cost_retained_inngest
-- Function runs retained by the inngest arm.
SELECT count(*) AS units FROM inngest.runs

-- name: cost_has_pg_stat_statements
-- Whether pg_stat_statements is installed in this database.
SELECT count(*) > 0 AS installed FROM pg_extension WHERE extname = 'pg_stat_statements'

-- name: cost_statements_preloaded
-- Whether the server loaded pg_stat_statements at start (it then counts every statement).
SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
    AS preloaded

-- name: cost_install_pg_stat_statements
-- Make the statistics the server already collects readable in this database (needs the module
-- preloaded: the embedded server preloads it; on another server this fails and rows stand in).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements

-- name: cost_schema_statements
-- Statements whose text names one schema (pg_stat_statements, since its last reset), and their rows.
SELECT coalesce(sum(calls), 0) AS calls,
       coalesce(sum(calls) FILTER (WHERE query ~* '^\s*(WITH\s.*)?(INSERT|UPDATE|DELETE)'), 0) AS write_calls,
       coalesce(sum(rows), 0) AS rows
FROM pg_stat_statements
WHERE query ILIKE :pattern

-- name: setup_schema_objects
-- Database objects in one schema: tables (partitions included), indexes, functions, triggers.
SELECT
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')) AS tables,
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = :schema AND c.relkind IN ('i', 'I')) AS indexes,
    (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = :schema) AS functions,
    (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = :schema AND NOT t.tgisinternal) AS triggers

-- name: setup_observations
-- Observations that bear on setup effort (setup_*, and the measured seconds to the first job), oldest first.
SELECT arm, kind, value, note, at
FROM bakeoff.observations
WHERE experiment = :experiment AND (kind LIKE 'setup%' OR kind = 'seconds_to_first_job')
ORDER BY at

-- name: consistency_sample_rate
-- The experiment's configured share of completed imports to re-check (no row: the default).
SELECT sample_rate FROM bakeoff.consistency_settings WHERE experiment = :experiment

-- name: consistency_set_sample_rate
-- Configure the experiment's share of completed imports to re-check.
INSERT INTO bakeoff.consistency_settings (experiment, sample_rate, updated_at)
VALUES (:experiment, :sample_rate, clock_timestamp())
ON CONFLICT (experiment) DO UPDATE SET sample_rate = excluded.sample_rate, updated_at = excluded.updated_at

-- name: consistency_due
-- Completed imports in the sample (a stable hash of the job id below the rate, so a job once
-- sampled stays sampled) that have a document and no check yet, oldest first.
SELECT t.trial_job_id, t.served_arm AS arm, t.url, d.content_sha256 AS arm_sha256
FROM bakeoff.trial_jobs t
JOIN bakeoff.documents d ON d.document_id = t.document_id
LEFT JOIN bakeoff.consistency_checks c ON c.trial_job_id = t.trial_job_id
WHERE t.experiment = :experiment AND t.outcome = 'completed' AND c.trial_job_id IS NULL
  AND CAST(CAST(('x' || substr(md5(CAST(t.trial_job_id AS text)), 1, 8)) AS bit(32)) AS bigint)
      < :sample_rate * 4294967296.0
ORDER BY t.finished_at
LIMIT :limit

-- name: consistency_insert
-- Record one re-check (a repeat of the same job changes nothing).
INSERT INTO bakeoff.consistency_checks
    (experiment, trial_job_id, arm, url, identical, arm_sha256, control_sha256, control_text, error)
VALUES (:experiment, :trial_job_id, :arm, :url, :identical, :arm_sha256, :control_sha256, :control_text, :error)
ON CONFLICT (trial_job_id) DO NOTHING

-- name: consistency_by_arm
-- Per arm: checks made, identical, failed re-fetches.
SELECT arm, count(*) FILTER (WHERE error IS NULL) AS checked,
       count(*) FILTER (WHERE identical) AS identical,
       count(*) FILTER (WHERE error IS NOT NULL) AS refetch_failed
FROM bakeoff.consistency_checks
WHERE experiment = :experiment
GROUP BY arm
ORDER BY arm

-- name: consistency_differences
-- The differing imports with both texts (the arm's saved document and the control's re-extraction).
SELECT c.arm, c.url, c.trial_job_id, c.checked_at, d.text AS arm_text, c.control_text
FROM bakeoff.consistency_checks c
JOIN bakeoff.trial_jobs t ON t.trial_job_id = c.trial_job_id
JOIN bakeoff.documents d ON d.document_id = t.document_id
WHERE c.experiment = :experiment AND c.identical = false
ORDER BY c.arm, c.checked_at
LIMIT :limit
