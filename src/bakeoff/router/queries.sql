-- The router's SQL: experiment state, phases, unit overrides, and the routing transaction's own steps.

-- name: insert_experiment
-- Create an experiment at phase 1 unless one of that name exists; returns the name when created.
INSERT INTO bakeoff.experiments (name, arms, weights, control, salt, phase, killed_arms, created_at, updated_at)
VALUES (:name, CAST(:arms AS text[]), CAST(:weights AS double precision[]), :control, :salt, 1,
        CAST('{}' AS text[]), clock_timestamp(), clock_timestamp())
ON CONFLICT (name) DO NOTHING
RETURNING name

-- name: insert_phase
-- Record the start of a phase with its weights and salt.
INSERT INTO bakeoff.experiment_phases (experiment, phase, weights, salt, started_at)
VALUES (:name, :phase, CAST(:weights AS double precision[]), :salt, clock_timestamp())

-- name: load_experiment
-- One experiment's stored state, with the salt of phase 1 (the base salt).
SELECT e.name, e.arms, e.weights, e.control, e.salt, e.phase, e.killed_arms,
       (SELECT p.salt FROM bakeoff.experiment_phases p WHERE p.experiment = e.name AND p.phase = 1) AS base_salt
FROM bakeoff.experiments e
WHERE e.name = :name

-- name: lock_experiment
-- The same state, row locked, so concurrent weight or kill changes apply one after the other.
SELECT e.name, e.arms, e.weights, e.control, e.salt, e.phase, e.killed_arms,
       (SELECT p.salt FROM bakeoff.experiment_phases p WHERE p.experiment = e.name AND p.phase = 1) AS base_salt
FROM bakeoff.experiments e
WHERE e.name = :name
FOR UPDATE OF e

-- name: route_state
-- A submit whose cached rule was out of date reads the live state, the unit's override, a committed
-- earlier submit under the same idempotency key, and the database clock (the exposure's submitted_at).
SELECT clock_timestamp() AS routed_at, e.name, e.arms, e.weights, e.control, e.salt, e.phase, e.killed_arms,
       (SELECT p.salt FROM bakeoff.experiment_phases p WHERE p.experiment = e.name AND p.phase = 1) AS base_salt,
       (SELECT o.arm FROM bakeoff.unit_overrides o WHERE o.experiment = e.name AND o.unit_key = :unit_key)
           AS override_arm,
       t.trial_job_id AS existing_trial_job_id, t.phase AS existing_phase, t.assigned_arm AS existing_assigned_arm,
       t.served_arm AS existing_served_arm, t.assignment_reason AS existing_reason,
       t.backend_job_id AS existing_backend_job_id, t.url AS existing_url
FROM bakeoff.experiments e
LEFT JOIN bakeoff.trial_jobs t
       ON t.experiment = e.name AND t.idempotency_key = CAST(:idempotency_key AS text)
WHERE e.name = :name

-- name: update_weights
-- Start a new phase: new weights and the phase's derived salt.
UPDATE bakeoff.experiments
SET weights = CAST(:weights AS double precision[]), phase = :phase, salt = :salt, updated_at = clock_timestamp()
WHERE name = :name

-- name: update_killed_arms
-- Turn kill switches on or off (no new phase: assignment does not change).
UPDATE bakeoff.experiments
SET killed_arms = CAST(:killed_arms AS text[]), updated_at = clock_timestamp()
WHERE name = :name

-- name: select_phases
-- Every phase of one experiment, oldest first.
SELECT phase, weights, salt, started_at
FROM bakeoff.experiment_phases
WHERE experiment = :name
ORDER BY phase

-- name: upsert_override
-- Pin one unit to an arm (QA, support); such jobs are recorded with reason 'override'.
INSERT INTO bakeoff.unit_overrides (experiment, unit_key, arm, created_at)
VALUES (:name, :unit_key, :arm, clock_timestamp())
ON CONFLICT (experiment, unit_key) DO UPDATE SET arm = excluded.arm, created_at = excluded.created_at

-- name: delete_override
-- Remove one unit's override; returns the key when there was one.
DELETE FROM bakeoff.unit_overrides
WHERE experiment = :name AND unit_key = :unit_key
RETURNING unit_key

-- name: select_overrides
-- Every override of one experiment.
SELECT unit_key, arm FROM bakeoff.unit_overrides WHERE experiment = :name ORDER BY unit_key

-- name: select_submission
-- The Submission recorded under an idempotency key (to answer a duplicate submit).
SELECT trial_job_id, phase, assigned_arm, served_arm, assignment_reason AS reason, backend_job_id, url
FROM bakeoff.trial_jobs
WHERE experiment = :experiment AND idempotency_key = :idempotency_key

-- name: select_trial_job_id
-- Read back one trial job after its COMMIT failed: was it taken all the same?
SELECT trial_job_id FROM bakeoff.trial_jobs WHERE trial_job_id = :trial_job_id

-- name: fallback_clock
-- After a failed arm's transaction is rolled back: the database clock at the moment of the fallback.
SELECT clock_timestamp() AS fell_back_at
