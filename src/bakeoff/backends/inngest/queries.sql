-- The step engine's SQL. {schema} is replaced by the client's schema name (default: inngest);
-- parameters use psycopg's %(name)s style. Times come from the database clock.

-- name: insert_event
-- Store an event (duplicates too: they are history, they just trigger nothing).
INSERT INTO {schema}.events (id, name, data, ts, duplicate)
VALUES (%(id)s, %(name)s, %(data)s, %(ts)s, %(duplicate)s)

-- name: take_flow_slot
-- GCRA: take a slot for key unless its theoretical arrival time is beyond the tolerance (no row = refused).
INSERT INTO {schema}.flow_state AS f (key, tat)
VALUES (%(key)s, clock_timestamp() + %(interval_ms)s * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE
SET tat = greatest(f.tat, clock_timestamp()) + %(interval_ms)s * interval '1 millisecond'
WHERE f.tat - clock_timestamp() <= %(tolerance_ms)s * interval '1 millisecond'
RETURNING tat

-- name: throttle_start
-- GCRA that queues instead of refusing: the time this run may start; the key's state moves on.
-- One timestamp for the whole statement, so consecutive starts are exactly one interval apart.
INSERT INTO {schema}.flow_state AS f (key, tat)
VALUES (%(key)s, statement_timestamp() + %(interval_ms)s * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE
SET tat = greatest(f.tat, statement_timestamp()) + %(interval_ms)s * interval '1 millisecond'
RETURNING greatest(statement_timestamp(),
                   tat - (%(interval_ms)s + %(tolerance_ms)s) * interval '1 millisecond') AS start_at

-- name: lock_key
-- Serialise work on one key (debounce, concurrency) for the rest of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))

-- name: insert_run
-- A new run, queued; scheduled_at is when its first invocation may happen.
INSERT INTO {schema}.runs
    (run_id, app_id, fn_id, event_id, event, ckeys, climits, parent_run_id, parent_step, state_size,
     scheduled_at)
VALUES
    (%(run_id)s, %(app_id)s, %(fn_id)s, %(event_id)s, %(event)s, %(ckeys)s, %(climits)s,
     %(parent_run_id)s, %(parent_step)s, %(state_size)s,
     coalesce(%(start_at)s::timestamptz, clock_timestamp()) + %(delay_ms)s * interval '1 millisecond')
RETURNING scheduled_at, state_size

-- name: add_state_size
-- Account bytes of events and step outputs against the run's state limit.
UPDATE {schema}.runs SET state_size = state_size + %(bytes)s WHERE run_id = %(run_id)s
RETURNING state_size

-- name: insert_item
-- Queue an invocation of a run (discover from the top, execute a planned step, resume after a wait).
INSERT INTO {schema}.queue (app_id, run_id, fn_id, kind, target_step, attempt, run_at, ckeys, climits)
VALUES (%(app_id)s, %(run_id)s, %(fn_id)s, %(kind)s, %(target_step)s, %(attempt)s,
        coalesce(%(run_at)s::timestamptz, clock_timestamp()) + %(delay_ms)s * interval '1 millisecond',
        %(ckeys)s, %(climits)s)
RETURNING id

-- name: notify
-- Wake idle workers (delivered at commit).
SELECT pg_notify(%(channel)s, '')

-- name: debounce_push
-- Push back a debounced run that has not started; no row when there is none (or it started).
UPDATE {schema}.queue AS q
SET run_at = least(clock_timestamp() + %(period_ms)s * interval '1 millisecond',
                   d.first_at + %(timeout_ms)s * interval '1 millisecond')
FROM {schema}.debounces AS d, {schema}.runs AS r
WHERE d.key = %(key)s AND q.run_id = d.run_id AND r.run_id = d.run_id
  AND r.status = 'queued' AND q.lease_owner IS NULL
RETURNING q.run_id, q.run_at

-- name: debounce_replace_event
-- The debounced run takes the latest event.
UPDATE {schema}.runs SET event = %(event)s, event_id = %(event_id)s, scheduled_at = %(run_at)s
WHERE run_id = %(run_id)s

-- name: debounce_set
-- Remember the pending debounced run of a key.
INSERT INTO {schema}.debounces AS d (key, run_id) VALUES (%(key)s, %(run_id)s)
ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, first_at = clock_timestamp()

-- name: active_runs_of_function
-- Runs of a function that a cancellation event could still stop.
SELECT run_id, event, created_at FROM {schema}.runs
WHERE app_id = %(app_id)s AND fn_id = %(fn_id)s AND status IN ('queued', 'running')
  AND (%(since_ms)s::bigint IS NULL
       OR created_at >= clock_timestamp() - %(since_ms)s * interval '1 millisecond')

-- name: cancel_run
-- Mark a run cancelled unless it already ended.
UPDATE {schema}.runs
SET status = 'cancelled', ended_at = clock_timestamp(), error = %(error)s
WHERE run_id = %(run_id)s AND status IN ('queued', 'running')
RETURNING run_id, fn_id, event, output, error, status, parent_run_id, parent_step

-- name: delete_idle_items
-- Drop a stopped run's queue items that no worker holds (a held one is dropped by its worker).
DELETE FROM {schema}.queue WHERE run_id = %(run_id)s AND lease_owner IS NULL

-- name: delete_waits
-- Drop every wait of a run.
DELETE FROM {schema}.waits WHERE run_id = %(run_id)s

-- name: waits_for_event
-- Runs waiting for an event of this name, with their trigger event for the if_exp. No row locks:
-- locking every candidate would hide waits from a concurrent sender whose event is the one that
-- matches; take_wait (a DELETE) settles who resolves a wait.
SELECT w.run_id, w.step_key, w.if_exp, r.event
FROM {schema}.waits AS w JOIN {schema}.runs AS r ON r.run_id = w.run_id
WHERE w.kind = 'event' AND w.event_name = %(name)s AND w.expires_at > clock_timestamp()

-- name: take_wait
-- Resolve a wait exactly once: whoever deletes the row resolves it.
DELETE FROM {schema}.waits WHERE run_id = %(run_id)s AND step_key = %(step_key)s
RETURNING kind

-- name: take_invoke_wait
-- A finishing child run resolves its parent's invoke step.
DELETE FROM {schema}.waits WHERE kind = 'invoke' AND child_run_id = %(child_run_id)s
RETURNING run_id, step_key

-- name: insert_wait
-- A run pauses on wait_for_event or invoke.
INSERT INTO {schema}.waits (run_id, step_key, kind, event_name, if_exp, child_run_id, expires_at)
VALUES (%(run_id)s, %(step_key)s, %(kind)s, %(event_name)s, %(if_exp)s, %(child_run_id)s,
        clock_timestamp() + %(timeout_ms)s * interval '1 millisecond')

-- name: resolve_waiting_step
-- Complete (or fail) a sleeping/waiting step; no row when it was already resolved.
UPDATE {schema}.steps
SET status = %(status)s, output = %(output)s, error = %(error)s, ended_at = clock_timestamp()
WHERE run_id = %(run_id)s AND step_key = %(step_key)s AND status = 'waiting'
RETURNING step_key

-- name: wake_resume_item
-- Make the resume item of a resolved step due now.
UPDATE {schema}.queue SET run_at = clock_timestamp()
WHERE run_id = %(run_id)s AND kind = 'resume' AND target_step = %(step_key)s

-- name: claim_item
-- Lease the next due item of our functions whose concurrency keys have room (SKIP LOCKED). One
-- statement; its commit skips the fsync wait, since a claim lost in a crash is just claimed again.
UPDATE {schema}.queue AS q
SET lease_until = clock_timestamp() + %(lease_ms)s * interval '1 millisecond', lease_owner = %(owner)s
WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL
  AND q.id = (
    SELECT c.id FROM {schema}.queue AS c
    WHERE c.run_at <= clock_timestamp()
      AND (c.lease_owner IS NULL OR c.lease_until < clock_timestamp())
      AND c.app_id = %(app_id)s AND c.fn_id = ANY(%(fn_ids)s)
      AND c.id <> ALL(%(exclude)s)
      AND (cardinality(c.ckeys) = 0 OR NOT EXISTS (
            SELECT 1 FROM unnest(c.ckeys, c.climits) AS k(key, lim)
            WHERE (SELECT count(*) FROM {schema}.queue AS a
                   WHERE a.lease_owner IS NOT NULL AND a.lease_until >= clock_timestamp()
                     AND a.ckeys @> ARRAY[k.key]) >= k.lim))
    ORDER BY c.run_at, c.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING q.id, q.run_id, q.fn_id, q.kind, q.target_step, q.attempt, q.run_at, q.ckeys, q.climits,
          clock_timestamp() AS claimed_at

-- name: release_claim
-- Give back a claim whose concurrency key turned out to be full.
UPDATE {schema}.queue SET lease_until = NULL, lease_owner = NULL WHERE id = %(id)s AND lease_owner = %(owner)s

-- name: lock_concurrency_keys
-- Take the advisory locks of an item's concurrency keys in a fixed order (no deadlocks).
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM (SELECT unnest(%(keys)s::text[]) AS k ORDER BY 1) AS s

-- name: full_concurrency_keys
-- Under those locks, the keys of an item whose running count is already at the limit.
SELECT k.key FROM unnest(%(keys)s::text[], %(limits)s::int[]) AS k(key, lim)
WHERE (SELECT count(*) FROM {schema}.queue AS a
       WHERE a.lease_owner IS NOT NULL AND a.lease_until >= clock_timestamp()
         AND a.ckeys @> ARRAY[k.key] AND a.id <> %(id)s) >= k.lim

-- name: seconds_until_due
-- How long an idle worker may sleep before the next item of its functions is due.
SELECT extract(epoch FROM min(CASE WHEN lease_owner IS NULL THEN run_at ELSE lease_until END)
                          - clock_timestamp())
FROM {schema}.queue WHERE app_id = %(app_id)s AND fn_id = ANY(%(fn_ids)s)

-- name: extend_leases
-- Heartbeat: keep the leases of items still being worked on.
UPDATE {schema}.queue SET lease_until = clock_timestamp() + %(lease_ms)s * interval '1 millisecond'
WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s

-- name: load_run
-- A run's trigger and counters, for an invocation.
SELECT run_id, fn_id, event, status, step_count, state_size, ckeys, climits, parent_run_id, parent_step
FROM {schema}.runs WHERE run_id = %(run_id)s

-- name: mark_run_started
-- The first invocation starts the run.
UPDATE {schema}.runs SET status = 'running', started_at = coalesce(started_at, %(at)s)
WHERE run_id = %(run_id)s AND status = 'queued'

-- name: load_memo
-- Stored step results (a still-waiting step is not a result yet).
SELECT step_key, status, output, error, op FROM {schema}.steps
WHERE run_id = %(run_id)s AND status <> 'waiting'
ORDER BY seq

-- name: lock_run
-- Serialise the finalisation of one run's invocations.
SELECT status, step_count, state_size FROM {schema}.runs WHERE run_id = %(run_id)s FOR UPDATE

-- name: insert_step
-- Memoize a step (a duplicate delivery of an already stored step writes nothing).
INSERT INTO {schema}.steps
    (run_id, step_key, step_id, hashed_id, op, status, opts, output, error, attempts, started_at, ended_at)
VALUES
    (%(run_id)s, %(step_key)s, %(step_id)s, %(hashed_id)s, %(op)s, %(status)s, %(opts)s, %(output)s,
     %(error)s, %(attempts)s, %(started_at)s, %(ended_at)s)
ON CONFLICT (run_id, step_key) DO NOTHING
RETURNING step_key

-- name: insert_attempt
-- One attempt, for the timeline.
INSERT INTO {schema}.attempts (run_id, step_key, attempt, queued_at, started_at, ended_at, ok, error, worker)
VALUES (%(run_id)s, %(step_key)s, %(attempt)s, %(queued_at)s, %(started_at)s, %(ended_at)s, %(ok)s,
        %(error)s, %(worker)s)

-- name: bump_run
-- Count new steps and their bytes against the run's limits.
UPDATE {schema}.runs SET step_count = step_count + %(steps)s, state_size = state_size + %(bytes)s
WHERE run_id = %(run_id)s
RETURNING step_count, state_size

-- name: store_step_and_continue
-- The hot path in one round trip: lock the run, memoize the step, log the attempt, count it, and
-- keep the item (and its lease) for the next discovery. Writes nothing unless the run is live.
WITH locked AS (
    SELECT run_id, status FROM {schema}.runs WHERE run_id = %(run_id)s FOR UPDATE
), live AS (
    SELECT run_id FROM locked WHERE status IN ('queued', 'running')
), stored AS (
    INSERT INTO {schema}.steps
        (run_id, step_key, step_id, hashed_id, op, status, output, attempts, started_at, ended_at)
    SELECT run_id, %(step_key)s, %(step_id)s, %(hashed_id)s, 'StepRun', 'completed', %(output)s,
           %(attempts)s, %(started_at)s, %(ended_at)s
    FROM live
    ON CONFLICT (run_id, step_key) DO NOTHING
    RETURNING step_key
), logged AS (
    INSERT INTO {schema}.attempts (run_id, step_key, attempt, queued_at, started_at, ended_at, ok, worker)
    SELECT run_id, %(step_key)s, %(attempt)s, %(queued_at)s, %(started_at)s, %(ended_at)s, true, %(worker)s
    FROM live
), bumped AS (
    UPDATE {schema}.runs AS r
    SET step_count = r.step_count + (SELECT count(*) FROM stored),
        state_size = r.state_size + (SELECT count(*) FROM stored) * %(bytes)s
    FROM live WHERE r.run_id = live.run_id
    RETURNING r.step_count, r.state_size
), rearmed AS (
    UPDATE {schema}.queue AS q
    SET kind = 'discover', target_step = NULL, attempt = 0, run_at = clock_timestamp(),
        lease_until = clock_timestamp() + %(lease_ms)s * interval '1 millisecond'
    FROM live WHERE q.id = %(id)s
    RETURNING q.run_at
)
SELECT (SELECT status FROM locked) AS status,
       (SELECT step_count FROM bumped) AS step_count,
       (SELECT state_size FROM bumped) AS state_size,
       (SELECT run_at FROM rearmed) AS run_at

-- name: store_parallel_step
-- A targeted (parallel) step finished: memoize it, log the attempt, count it, drop its item and,
-- if it was the run's last item, queue the next discovery. Runs after lock_run in the same
-- transaction, so it sees every other finaliser's committed work.
WITH stored AS (
    INSERT INTO {schema}.steps
        (run_id, step_key, step_id, hashed_id, op, status, output, error, attempts, started_at, ended_at)
    VALUES (%(run_id)s, %(step_key)s, %(step_id)s, %(hashed_id)s, 'StepRun', %(status)s, %(output)s,
            %(error)s, %(attempts)s, %(started_at)s, %(ended_at)s)
    ON CONFLICT (run_id, step_key) DO NOTHING
    RETURNING step_key
), logged AS (
    INSERT INTO {schema}.attempts (run_id, step_key, attempt, queued_at, started_at, ended_at, ok, error, worker)
    VALUES (%(run_id)s, %(step_key)s, %(attempt)s, %(queued_at)s, %(started_at)s, %(ended_at)s,
            %(error)s::jsonb IS NULL, %(error)s, %(worker)s)
), bumped AS (
    UPDATE {schema}.runs
    SET step_count = step_count + (SELECT count(*) FROM stored),
        state_size = state_size + (SELECT count(*) FROM stored) * %(bytes)s
    WHERE run_id = %(run_id)s
    RETURNING step_count, state_size
), dropped AS (
    DELETE FROM {schema}.queue WHERE id = %(id)s RETURNING id
), queued AS (
    INSERT INTO {schema}.queue (app_id, run_id, fn_id, kind, attempt, run_at, ckeys, climits)
    SELECT %(app_id)s, %(run_id)s, %(fn_id)s, 'discover', 0, clock_timestamp(), %(ckeys)s, %(climits)s
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.queue WHERE run_id = %(run_id)s AND id <> %(id)s)
    RETURNING id
)
SELECT (SELECT step_count FROM bumped) AS step_count,
       (SELECT state_size FROM bumped) AS state_size,
       (SELECT count(pg_notify(%(channel)s, '')) FROM queued) AS discovering

-- name: rearm_item
-- Reuse an item for the run's next invocation; keep the lease when this worker continues at once.
UPDATE {schema}.queue
SET kind = %(kind)s, target_step = %(target_step)s, attempt = %(attempt)s,
    run_at = clock_timestamp() + %(delay_ms)s * interval '1 millisecond',
    lease_until = CASE WHEN %(keep)s THEN clock_timestamp() + %(lease_ms)s * interval '1 millisecond' END,
    lease_owner = CASE WHEN %(keep)s THEN lease_owner END
WHERE id = %(id)s
RETURNING run_at

-- name: delete_item
-- An item is done.
DELETE FROM {schema}.queue WHERE id = %(id)s

-- name: count_items
-- Items a run still has (parallel steps, sleeps and waits in flight).
SELECT count(*) FROM {schema}.queue WHERE run_id = %(run_id)s

-- name: finish_run
-- A run ends (first ending wins).
UPDATE {schema}.runs
SET status = %(status)s, output = %(output)s, error = %(error)s, ended_at = clock_timestamp()
WHERE run_id = %(run_id)s AND status IN ('queued', 'running')
RETURNING run_id, fn_id, event, output, error, status, parent_run_id, parent_step

-- name: delete_run_items
-- A finished run has nothing left to do.
DELETE FROM {schema}.queue WHERE run_id = %(run_id)s

-- name: register_cron
-- Schedule a cron trigger once; a changed expression is a new row.
INSERT INTO {schema}.crons (app_id, fn_id, cron, next_at) VALUES (%(app_id)s, %(fn_id)s, %(cron)s, %(next_at)s)
ON CONFLICT (app_id, fn_id, cron) DO NOTHING

-- name: due_crons
-- Cron triggers due now; SKIP LOCKED so one worker fires each tick.
SELECT fn_id, cron, next_at FROM {schema}.crons
WHERE app_id = %(app_id)s AND fn_id = ANY(%(fn_ids)s) AND next_at <= clock_timestamp()
FOR UPDATE SKIP LOCKED

-- name: set_cron_next
-- Move a cron trigger to its next fire time.
UPDATE {schema}.crons SET next_at = %(next_at)s
WHERE app_id = %(app_id)s AND fn_id = %(fn_id)s AND cron = %(cron)s

-- name: get_run
-- One run as stored.
SELECT * FROM {schema}.runs WHERE run_id = %(run_id)s

-- name: get_steps
-- A run's steps in the order they were stored.
SELECT * FROM {schema}.steps WHERE run_id = %(run_id)s ORDER BY seq

-- name: get_attempts
-- A run's attempts in order.
SELECT * FROM {schema}.attempts WHERE run_id = %(run_id)s ORDER BY id

-- name: runs_for_event
-- The runs an event started.
SELECT run_id FROM {schema}.runs WHERE event_id = %(event_id)s ORDER BY created_at, run_id

-- name: finished_runs_since
-- Runs of one function of this app that ended after a moment, oldest first (the arm reconciles outcomes).
SELECT run_id, fn_id, status, output, error, event, ended_at
FROM {schema}.runs
WHERE app_id = %(app_id)s AND fn_id = %(fn_id)s AND ended_at > %(since)s
  AND status IN ('completed', 'failed', 'cancelled')
ORDER BY ended_at
LIMIT 1000

-- name: list_runs
-- Recent runs, optionally by status and function.
SELECT run_id, fn_id, status, step_count, created_at, started_at, ended_at, error
FROM {schema}.runs
WHERE (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(fn_id)s::text IS NULL OR fn_id = %(fn_id)s)
ORDER BY created_at DESC
LIMIT %(limit)s

-- name: run_progress
-- A run's status and whether its next invocation is a retry (for the trial's JobState).
SELECT r.status, coalesce((SELECT max(q.attempt) FROM {schema}.queue AS q WHERE q.run_id = r.run_id), 0)
       AS retry_attempt
FROM {schema}.runs AS r WHERE r.run_id = %(run_id)s

-- name: queue_depth
-- Runs waiting to start and runs in progress.
SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
       count(*) FILTER (WHERE status = 'running') AS running
FROM {schema}.runs
WHERE status IN ('queued', 'running')

-- name: schema_installed
-- Whether the migrated queue (with its app scope, inngest_0002) exists: what every worker claims from.
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = %(schema)s AND table_name = 'queue' AND column_name = 'app_id'
) AS installed
