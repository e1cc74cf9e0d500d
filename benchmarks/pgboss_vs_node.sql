-- The statements benchmarks/pgboss_vs_node.py runs around each cell, on both sides (Python and Node).
-- __SCHEMA__ is the side's validated schema name; :app is an application_name.

-- name: truncate_jobs
-- Empty every job table of the schema before a cell: each cell starts on an empty table.
TRUNCATE __SCHEMA__.job

-- name: analyze_jobs
-- Take the job tables' statistics now (on the empty table for `stale`, the filled one for `fresh`).
ANALYZE __SCHEMA__.job

-- name: keep_statistics
-- Autovacuum off on the shared job table, so the statistics a cell took are the ones it runs with.
ALTER TABLE __SCHEMA__.job_common SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)

-- name: backend_pids
-- The PostgreSQL backends serving one side's connections (whose CPU /proc/<pid>/stat gives).
SELECT pid FROM pg_stat_activity WHERE application_name = :app
