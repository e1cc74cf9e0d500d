-- SQL the interop harnesses run themselves (the Node harness gets it in its payload, with $n placeholders).

-- name: advance_time
-- "Advance time" for one queue without sleeping: move every timestamp of its jobs back by :seconds.
UPDATE {schema}.job SET
    created_on = created_on - make_interval(secs => :seconds),
    start_after = start_after - make_interval(secs => :seconds),
    started_on = started_on - make_interval(secs => :seconds),
    completed_on = completed_on - make_interval(secs => :seconds),
    heartbeat_on = heartbeat_on - make_interval(secs => :seconds),
    keep_until = keep_until - make_interval(secs => :seconds)
WHERE name = :queue

-- name: dump_jobs
-- Every job row of a schema as JSON, whatever columns the implementation has.
SELECT to_jsonb(j) AS row FROM {schema}.job AS j ORDER BY j.name, j.created_on, j.id

-- name: dump_queues
-- Every queue's settings as JSON.
SELECT to_jsonb(q) AS row FROM {schema}.queue AS q ORDER BY q.name

-- name: dump_schedules
-- Every cron schedule as JSON.
SELECT to_jsonb(s) AS row FROM {schema}.schedule AS s ORDER BY s.name, s.key

-- name: dump_subscriptions
-- Every subscription as JSON.
SELECT to_jsonb(s) AS row FROM {schema}.subscription AS s ORDER BY s.event, s.name

-- name: schema_version
-- The pg-boss schema version recorded in a schema.
SELECT version FROM {schema}.version
