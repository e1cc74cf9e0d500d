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

-- name: catalog_snapshot
-- The schema's shape (columns, indexes, constraints, functions, enum order), with the schema name as <schema>.
SELECT kind, replace(item, :schema || '.', '<schema>.') AS item FROM (
    SELECT 'column' AS kind,
           format('%s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable,
                  coalesce(column_default, '')) AS item
    FROM information_schema.columns WHERE table_schema = :schema
    UNION ALL
    SELECT 'index', format('%s %s', tablename, indexdef) FROM pg_indexes WHERE schemaname = :schema
    UNION ALL
    SELECT 'constraint', format('%s %s', c.conrelid::regclass::text, pg_get_constraintdef(c.oid))
    FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace WHERE n.nspname = :schema
    UNION ALL
    SELECT 'function', pg_get_functiondef(p.oid)
    FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = :schema
    UNION ALL
    SELECT 'enum', format('%s: %s', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
    FROM pg_enum AS e JOIN pg_type AS t ON t.oid = e.enumtypid JOIN pg_namespace AS n ON n.oid = t.typnamespace
    WHERE n.nspname = :schema GROUP BY t.typname
) AS shape ORDER BY kind, item

-- name: set_schema_version
-- Pretend a schema is at another pg-boss version (to prove versions are checked).
UPDATE {schema}.version SET version = :version

-- name: notify_channel
-- pg-boss's LISTEN/NOTIFY channel for a schema (plans.ts notifyChannelSql).
SELECT 'pgboss_' || left(encode(sha224(convert_to(:schema, 'UTF8')), 'hex'), 24)

-- name: reset_schema
-- Empty a schema between scenarios (jobs, schedules, subscriptions, user queues) so the next reuses it.
DELETE FROM {schema}.job_dependency;
DELETE FROM {schema}.job;
DELETE FROM {schema}.schedule;
DELETE FROM {schema}.subscription;
DELETE FROM {schema}.queue WHERE name NOT LIKE '\_\_pgboss\_\_%'
