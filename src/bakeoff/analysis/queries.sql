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
