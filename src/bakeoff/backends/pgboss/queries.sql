-- SQL of the pgboss arm: pg-boss 12.38's database layout (schema version 46) and its job statements.
--
-- __SCHEMA__ stands for the validated schema name and __TABLE__ for a queue's job table
-- (job_common, or j<sha224(name)> for a partitioned queue); PgBossQueries renders both.
-- Parameters are psycopg named placeholders. Statement shapes follow pg-boss's src/plans.ts so a
-- schema is shared with a real pg-boss: same tables, indexes, functions and state transitions.

-- name: advisory_xact_lock
-- Serialise installs, queue DDL and sweeps with the same key pg-boss derives (sha224 of db+schema+key).
SELECT pg_advisory_xact_lock(('x' || encode(sha224((current_database() || '.pgboss.' || %(schema)s || %(key)s)::bytea), 'hex'))::bit(64)::bigint)

-- name: set_install_timeouts
-- The bounds pg-boss sets around every locked transaction.
SET LOCAL lock_timeout = 30000;
SET LOCAL idle_in_transaction_session_timeout = 30000

-- name: version_table_exists
-- Whether a pg-boss schema is installed here (true/false).
SELECT to_regclass(%(version_table)s) IS NOT NULL AS installed

-- name: get_version
-- The installed pg-boss schema version.
SELECT version FROM __SCHEMA__.version

-- name: insert_version
-- Record the schema version at the end of an install.
INSERT INTO __SCHEMA__.version(version) VALUES (%(version)s)

-- name: install_schema
-- pg-boss 12.38 construction plan (getConstructionPlans), version 46: every table, index and function.
CREATE SCHEMA IF NOT EXISTS __SCHEMA__;

CREATE TYPE __SCHEMA__.job_state AS ENUM (
  'created',
  'retry',
  'active',
  'completed',
  'cancelled',
  'failed'
);

CREATE FUNCTION __SCHEMA__.job_now()
RETURNS timestamp with time zone AS
$$
  SELECT pg_catalog.now();
$$
LANGUAGE sql STABLE;

CREATE TABLE __SCHEMA__.version (
  version int primary key,
  cron_on timestamp with time zone,
  bam_on timestamp with time zone,
  flow_on timestamp with time zone,
  reindex_on timestamp with time zone,
  monitor_backoff_on timestamp with time zone
);

CREATE TABLE __SCHEMA__.queue (
  name text NOT NULL,
  policy text NOT NULL,
  retry_limit int NOT NULL,
  retry_delay int NOT NULL,
  retry_backoff bool NOT NULL,
  retry_delay_max int,
  expire_seconds int NOT NULL,
  retention_seconds int NOT NULL,
  deletion_seconds int NOT NULL,
  dead_letter text REFERENCES __SCHEMA__.queue (name) CHECK (dead_letter IS DISTINCT FROM name),
  partition bool NOT NULL,
  table_name text NOT NULL,
  deferred_count int NOT NULL default 0,
  blocked_count int NOT NULL default 0,
  queued_count int NOT NULL default 0,
  ready_count int NOT NULL default 0,
  warning_queued int NOT NULL default 0,
  active_count int NOT NULL default 0,
  failed_count int NOT NULL default 0,
  total_count int NOT NULL default 0,
  retained_count int,
  retained_on timestamp with time zone,
  created_delta int NOT NULL default 0,
  completed_delta int NOT NULL default 0,
  failed_delta int NOT NULL default 0,
  delta_on timestamp with time zone,
  delta_seconds int,
  wait_bins int[],
  run_bins int[],
  ready_oldest_seconds int,
  ready_history int[] NOT NULL default '{}',
  heartbeat_seconds int,
  notify bool NOT NULL DEFAULT false,
  singletons_active text[],
  monitor_claim_on timestamp with time zone,
  monitor_on timestamp with time zone,
  maintain_on timestamp with time zone,
  created_on timestamp with time zone not null default now(),
  updated_on timestamp with time zone not null default now(),
  PRIMARY KEY (name)
);

CREATE TABLE __SCHEMA__.schedule (
  name text REFERENCES __SCHEMA__.queue ON DELETE CASCADE,
  key text not null DEFAULT '',
  kind text not null DEFAULT 'cron' CHECK (kind IN ('cron', 'rrule')),
  cron text not null,
  timezone text DEFAULT 'UTC',
  data jsonb,
  options jsonb,
  created_on timestamp with time zone not null default now(),
  updated_on timestamp with time zone not null default now(),
  last_job_id uuid,
  PRIMARY KEY (name, key)
);

CREATE TABLE __SCHEMA__.subscription (
  event text not null,
  name text not null REFERENCES __SCHEMA__.queue ON DELETE CASCADE,
  created_on timestamp with time zone not null default now(),
  updated_on timestamp with time zone not null default now(),
  PRIMARY KEY(event, name)
);

CREATE TABLE __SCHEMA__.bam (
  id uuid PRIMARY KEY default gen_random_uuid(),
  name text NOT NULL,
  version int NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  queue text,
  table_name text NOT NULL,
  command text NOT NULL,
  error text,
  created_on timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  started_on timestamp with time zone,
  completed_on timestamp with time zone
);

CREATE FUNCTION __SCHEMA__.job_table_format(command text, table_name text)
RETURNS text AS
$$
  SELECT format(
    regexp_replace(
      regexp_replace(command, '\.job\y', '.%1$I', 'g'),
      '\yjob_i(\d+)', '%1$s_i\1', 'g'
    ),
    table_name
  );
$$
LANGUAGE sql IMMUTABLE;

CREATE FUNCTION __SCHEMA__.job_table_run(command text, tbl_name text DEFAULT NULL, queue_name text DEFAULT NULL)
RETURNS VOID AS
$$
DECLARE
  tbl RECORD;
BEGIN
  IF queue_name IS NOT NULL THEN
    SELECT table_name INTO tbl_name FROM __SCHEMA__.queue WHERE name = queue_name;
  END IF;

  IF tbl_name IS NOT NULL THEN
    EXECUTE __SCHEMA__.job_table_format(command, tbl_name);
    RETURN;
  END IF;

  EXECUTE __SCHEMA__.job_table_format(command, 'job_common');

  FOR tbl IN SELECT table_name FROM __SCHEMA__.queue WHERE partition = true
  LOOP
    EXECUTE __SCHEMA__.job_table_format(command, tbl.table_name);
  END LOOP;
END;
$$
LANGUAGE plpgsql;

CREATE FUNCTION __SCHEMA__.job_table_run_async(command_name text, version int, command text, tbl_name text DEFAULT NULL, queue_name text DEFAULT NULL)
RETURNS VOID AS
$$
BEGIN
  IF queue_name IS NOT NULL THEN
    SELECT table_name INTO tbl_name FROM __SCHEMA__.queue WHERE name = queue_name;
  END IF;

  IF tbl_name IS NOT NULL THEN
    INSERT INTO __SCHEMA__.bam (name, version, status, queue, table_name, command)
    VALUES (
      command_name,
      version,
      'pending',
      queue_name,
      tbl_name,
      __SCHEMA__.job_table_format(command, tbl_name)
    );
    RETURN;
  END IF;

  INSERT INTO __SCHEMA__.bam (name, version, status, queue, table_name, command)
  SELECT
    command_name,
    version,
    'pending',
    NULL,
    'job_common',
    __SCHEMA__.job_table_format(command, 'job_common')
  UNION ALL
  SELECT
    command_name,
    version,
    'pending',
    queue.name,
    queue.table_name,
    __SCHEMA__.job_table_format(command, queue.table_name)
  FROM __SCHEMA__.queue
  WHERE partition = true;
END;
$$
LANGUAGE plpgsql;

CREATE TABLE __SCHEMA__.job (
  id uuid not null default gen_random_uuid(),
  name text not null,
  priority integer not null default(0),
  data jsonb,
  state __SCHEMA__.job_state not null default 'created',
  retry_limit integer not null default 2,
  retry_count integer not null default 0,
  retry_delay integer not null default 0,
  retry_backoff boolean not null default false,
  retry_delay_max integer,
  expire_seconds int not null default 900,
  deletion_seconds int not null default 604800,
  singleton_key text,
  singleton_on timestamp without time zone,
  group_id text,
  group_tier text,
  start_after timestamp with time zone not null default now(),
  created_on timestamp with time zone not null default now(),
  started_on timestamp with time zone,
  completed_on timestamp with time zone,
  keep_until timestamp with time zone NOT NULL default now() + interval '1209600',
  output jsonb,
  dead_letter text,
  policy text,
  heartbeat_on timestamp with time zone,
  heartbeat_seconds int,
  blocked boolean not null default false,
  blocking boolean not null default false,
  pending_dependencies int not null default 0,
  source_name text,
  source_id uuid,
  source_created_on timestamp with time zone,
  source_retry_count int,
  source_output jsonb,
  source_root_id uuid,
  trace_context jsonb,
  upsert_by_key bool
) PARTITION BY LIST (name);
ALTER TABLE __SCHEMA__.job ADD PRIMARY KEY (name, id);

CREATE TABLE __SCHEMA__.job_common (LIKE __SCHEMA__.job INCLUDING GENERATED INCLUDING DEFAULTS);

SELECT __SCHEMA__.job_table_run($cmd$ALTER TABLE __SCHEMA__.job ADD PRIMARY KEY (name, id)$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT q_fkey FOREIGN KEY (name) REFERENCES __SCHEMA__.queue (name) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT dlq_fkey FOREIGN KEY (dead_letter) REFERENCES __SCHEMA__.queue (name) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i1 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state = 'created' AND policy = 'short'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i2 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state = 'active' AND policy = 'singleton'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i3 ON __SCHEMA__.job (name, state, COALESCE(singleton_key, '')) WHERE state <= 'active' AND policy = 'stately'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i6 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state <= 'active' AND policy = 'exclusive'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i8 ON __SCHEMA__.job (name, singleton_key) WHERE state IN ('active', 'retry', 'failed') AND policy = 'key_strict_fifo'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i10 ON __SCHEMA__.job (name, singleton_key, state DESC, created_on, id) INCLUDE (start_after) WHERE state < 'active' AND NOT blocked AND policy = 'key_strict_fifo'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT job_key_strict_fifo_singleton_key_check CHECK (NOT (policy = 'key_strict_fifo' AND singleton_key IS NULL))$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i4 ON __SCHEMA__.job (name, singleton_on, COALESCE(singleton_key, '')) WHERE state <> 'cancelled' AND singleton_on IS NOT NULL$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i11 ON __SCHEMA__.job (name, priority DESC, created_on, start_after) WHERE state < 'active' AND NOT blocked$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i7 ON __SCHEMA__.job (name, group_id) WHERE state = 'active' AND group_id IS NOT NULL$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i9 ON __SCHEMA__.job (name, id) WHERE blocking AND state = 'completed'$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i12 ON __SCHEMA__.job (source_root_id) WHERE source_root_id IS NOT NULL$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE UNIQUE INDEX job_i13 ON __SCHEMA__.job (name, singleton_key) WHERE state = 'created' AND upsert_by_key$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i14 ON __SCHEMA__.job (name, state, blocked, start_after) WHERE state IN ('created', 'retry', 'active', 'failed')$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i15 ON __SCHEMA__.job (name, created_on)$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i16 ON __SCHEMA__.job (name, completed_on) WHERE completed_on IS NOT NULL$cmd$, 'job_common');
SELECT __SCHEMA__.job_table_run($cmd$CREATE INDEX job_i17 ON __SCHEMA__.job (name, singleton_key, created_on) WHERE state < 'active' AND singleton_key IS NOT NULL$cmd$, 'job_common');

ALTER TABLE __SCHEMA__.job ATTACH PARTITION __SCHEMA__.job_common DEFAULT;

CREATE TABLE __SCHEMA__.warning (
  id uuid PRIMARY KEY default gen_random_uuid(),
  type text NOT NULL,
  message text NOT NULL,
  data jsonb,
  created_on timestamp with time zone NOT NULL DEFAULT now()
);
CREATE INDEX warning_i1 ON __SCHEMA__.warning (created_on DESC);

CREATE TABLE __SCHEMA__.queue_stats (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  name text NOT NULL,
  deferred_count int NOT NULL DEFAULT 0,
  queued_count   int NOT NULL DEFAULT 0,
  ready_count    int NOT NULL DEFAULT 0,
  active_count   int NOT NULL DEFAULT 0,
  failed_count   int NOT NULL DEFAULT 0,
  total_count    int NOT NULL DEFAULT 0,
  created_delta   int,
  completed_delta int,
  failed_delta    int,
  delta_seconds   int,
  delta_on        timestamptz,
  wait_bins       int[],
  run_bins        int[],
  ready_oldest_seconds int,
  captured_on timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, captured_on)
) PARTITION BY RANGE (captured_on);
CREATE INDEX queue_stats_i1 ON __SCHEMA__.queue_stats (name, captured_on DESC) INCLUDE (deferred_count, queued_count, ready_count, active_count, failed_count, total_count);

DO $$
DECLARE
  d date;
  i int;
  part_name text;
BEGIN
  FOR i IN 0..1 LOOP
    d := (__SCHEMA__.job_now() AT TIME ZONE 'UTC')::date + i;
    part_name := 'queue_stats_' || to_char(d, 'YYYYMMDD');
    IF NOT EXISTS (
      SELECT 1 FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '__SCHEMA__' AND c.relname = part_name
    ) THEN
      EXECUTE format(
        'CREATE TABLE __SCHEMA__.%I PARTITION OF __SCHEMA__.queue_stats FOR VALUES FROM (%L) TO (%L)',
        part_name,
        to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
        to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00'
      );
    END IF;
  END LOOP;
END;
$$;

CREATE TABLE __SCHEMA__.job_dependency (
  child_name text NOT NULL,
  child_id uuid NOT NULL,
  parent_name text NOT NULL,
  parent_id uuid NOT NULL,
  PRIMARY KEY (child_name, child_id, parent_name, parent_id)
);
CREATE INDEX IF NOT EXISTS job_dep_parent_idx ON __SCHEMA__.job_dependency (parent_name, parent_id);

CREATE TABLE __SCHEMA__.instance (
  id uuid PRIMARY KEY,
  name text,
  host text NOT NULL,
  pid int NOT NULL,
  version text NOT NULL,
  node_version text NOT NULL,
  application_name text,
  heartbeat_seconds int NOT NULL,
  supervise bool NOT NULL,
  schedule bool NOT NULL,
  migrate bool NOT NULL,
  persist_queue_stats bool NOT NULL,
  persist_warnings bool NOT NULL,
  pool_max int,
  pool_total int,
  pool_idle int,
  pool_waiting int,
  workers jsonb NOT NULL DEFAULT '[]'::jsonb,
  metrics jsonb,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  crash_restarts int NOT NULL DEFAULT 0,
  crash_restarts_since timestamptz,
  started_on timestamptz NOT NULL DEFAULT now(),
  heartbeat_on timestamptz NOT NULL DEFAULT now(),
  stopped_on timestamptz
);

CREATE FUNCTION __SCHEMA__.create_queue(queue_name text, options jsonb)
RETURNS VOID AS
$$
DECLARE
  tablename varchar := CASE WHEN options->>'partition' = 'true'
                        THEN 'j' || encode(sha224(queue_name::bytea), 'hex')
                        ELSE 'job_common'
                        END;
  queue_created_on timestamptz;
BEGIN

  WITH q as (
    INSERT INTO __SCHEMA__.queue (
      name,
      policy,
      retry_limit,
      retry_delay,
      retry_backoff,
      retry_delay_max,
      expire_seconds,
      retention_seconds,
      deletion_seconds,
      warning_queued,
      dead_letter,
      partition,
      table_name,
      heartbeat_seconds,
      notify,
      created_on,
      updated_on
    )
    VALUES (
      queue_name,
      options->>'policy',
      COALESCE((options->>'retryLimit')::int, 2),
      COALESCE((options->>'retryDelay')::int, 0),
      COALESCE((options->>'retryBackoff')::bool, false),
      (options->>'retryDelayMax')::int,
      COALESCE((options->>'expireInSeconds')::int, 900),
      COALESCE((options->>'retentionSeconds')::int, 1209600),
      COALESCE((options->>'deleteAfterSeconds')::int, 604800),
      COALESCE((options->>'warningQueueSize')::int, 0),
      options->>'deadLetter',
      COALESCE((options->>'partition')::bool, false),
      tablename,
      (options->>'heartbeatSeconds')::int,
      COALESCE((options->>'notify')::bool, false),
      __SCHEMA__.job_now(),
      __SCHEMA__.job_now()
    )
    ON CONFLICT DO NOTHING
    RETURNING created_on
  )
  SELECT created_on into queue_created_on from q;

  IF queue_created_on IS NULL OR options->>'partition' IS DISTINCT FROM 'true' THEN
    RETURN;
  END IF;

  EXECUTE format('CREATE TABLE __SCHEMA__.%I (LIKE __SCHEMA__.job INCLUDING DEFAULTS)', tablename);

  EXECUTE __SCHEMA__.job_table_format($cmd$ALTER TABLE __SCHEMA__.job ADD PRIMARY KEY (name, id)$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT q_fkey FOREIGN KEY (name) REFERENCES __SCHEMA__.queue (name) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT dlq_fkey FOREIGN KEY (dead_letter) REFERENCES __SCHEMA__.queue (name) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED$cmd$, tablename);

  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i11 ON __SCHEMA__.job (name, priority DESC, created_on, start_after) WHERE state < 'active' AND NOT blocked$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i4 ON __SCHEMA__.job (name, singleton_on, COALESCE(singleton_key, '')) WHERE state <> 'cancelled' AND singleton_on IS NOT NULL$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i7 ON __SCHEMA__.job (name, group_id) WHERE state = 'active' AND group_id IS NOT NULL$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i9 ON __SCHEMA__.job (name, id) WHERE blocking AND state = 'completed'$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i12 ON __SCHEMA__.job (source_root_id) WHERE source_root_id IS NOT NULL$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i13 ON __SCHEMA__.job (name, singleton_key) WHERE state = 'created' AND upsert_by_key$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i14 ON __SCHEMA__.job (name, state, blocked, start_after) WHERE state IN ('created', 'retry', 'active', 'failed')$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i15 ON __SCHEMA__.job (name, created_on)$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i16 ON __SCHEMA__.job (name, completed_on) WHERE completed_on IS NOT NULL$cmd$, tablename);
  EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i17 ON __SCHEMA__.job (name, singleton_key, created_on) WHERE state < 'active' AND singleton_key IS NOT NULL$cmd$, tablename);

  IF options->>'policy' = 'short' THEN
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i1 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state = 'created' AND policy = 'short'$cmd$, tablename);
  ELSIF options->>'policy' = 'singleton' THEN
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i2 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state = 'active' AND policy = 'singleton'$cmd$, tablename);
  ELSIF options->>'policy' = 'stately' THEN
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i3 ON __SCHEMA__.job (name, state, COALESCE(singleton_key, '')) WHERE state <= 'active' AND policy = 'stately'$cmd$, tablename);
  ELSIF options->>'policy' = 'exclusive' THEN
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i6 ON __SCHEMA__.job (name, COALESCE(singleton_key, '')) WHERE state <= 'active' AND policy = 'exclusive'$cmd$, tablename);
  ELSIF options->>'policy' = 'key_strict_fifo' THEN
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE UNIQUE INDEX job_i8 ON __SCHEMA__.job (name, singleton_key) WHERE state IN ('active', 'retry', 'failed') AND policy = 'key_strict_fifo'$cmd$, tablename);
    EXECUTE __SCHEMA__.job_table_format($cmd$CREATE INDEX job_i10 ON __SCHEMA__.job (name, singleton_key, state DESC, created_on, id) INCLUDE (start_after) WHERE state < 'active' AND NOT blocked AND policy = 'key_strict_fifo'$cmd$, tablename);
    EXECUTE __SCHEMA__.job_table_format($cmd$ALTER TABLE __SCHEMA__.job ADD CONSTRAINT job_key_strict_fifo_singleton_key_check CHECK (NOT (policy = 'key_strict_fifo' AND singleton_key IS NULL))$cmd$, tablename);
  END IF;

  EXECUTE format('ALTER TABLE __SCHEMA__.%I ADD CONSTRAINT cjc CHECK (name=%L)', tablename, queue_name);
  EXECUTE format('ALTER TABLE __SCHEMA__.job ATTACH PARTITION __SCHEMA__.%I FOR VALUES IN (%L)', tablename, queue_name);
END;
$$
LANGUAGE plpgsql;

CREATE FUNCTION __SCHEMA__.delete_queue(queue_name text)
RETURNS VOID AS
$$
DECLARE
  v_table varchar;
  v_partition bool;
BEGIN
  
  SELECT table_name, partition
  FROM __SCHEMA__.queue
  WHERE name = queue_name
  INTO v_table, v_partition;

  IF v_partition THEN
    EXECUTE format('DROP TABLE IF EXISTS __SCHEMA__.%I', v_table);
  ELSE
    EXECUTE format('DELETE FROM __SCHEMA__.%I WHERE name = %L', v_table, queue_name);
  END IF;

  DELETE FROM __SCHEMA__.queue WHERE name = queue_name;
END;
$$
LANGUAGE plpgsql;

-- name: create_queue
-- Create a queue (idempotent; pg-boss's create_queue function, ON CONFLICT DO NOTHING).
SELECT __SCHEMA__.create_queue(%(name)s, %(options)s::jsonb)

-- name: update_queue
-- Change a queue's settings; keys absent from the options keep their value (policy never changes).
WITH options AS (SELECT %(options)s::jsonb AS data)
UPDATE __SCHEMA__.queue SET
  retry_limit = COALESCE((o.data->>'retryLimit')::int, retry_limit),
  retry_delay = COALESCE((o.data->>'retryDelay')::int, retry_delay),
  retry_backoff = COALESCE((o.data->>'retryBackoff')::bool, retry_backoff),
  retry_delay_max = CASE WHEN (o.data -> 'retryDelayMax') IS NOT NULL
    THEN (o.data->>'retryDelayMax')::int ELSE retry_delay_max END,
  expire_seconds = COALESCE((o.data->>'expireInSeconds')::int, expire_seconds),
  retention_seconds = COALESCE((o.data->>'retentionSeconds')::int, retention_seconds),
  deletion_seconds = COALESCE((o.data->>'deleteAfterSeconds')::int, deletion_seconds),
  warning_queued = COALESCE((o.data->>'warningQueueSize')::int, warning_queued),
  heartbeat_seconds = CASE WHEN (o.data -> 'heartbeatSeconds') IS NOT NULL
    THEN (o.data->>'heartbeatSeconds')::int ELSE heartbeat_seconds END,
  notify = COALESCE((o.data->>'notify')::bool, notify),
  dead_letter = CASE WHEN (o.data -> 'deadLetter') IS NOT NULL
    THEN o.data->>'deadLetter' ELSE dead_letter END,
  updated_on = __SCHEMA__.job_now()
FROM options o
WHERE name = %(name)s

-- name: delete_queue
-- Drop a queue and its jobs (pg-boss's delete_queue function).
SELECT __SCHEMA__.delete_queue(%(name)s)

-- name: get_queues
-- Queues with their settings and cached counts; every queue when names is NULL.
SELECT name, policy, retry_limit, retry_delay, retry_backoff, retry_delay_max, expire_seconds,
  retention_seconds, deletion_seconds, partition, heartbeat_seconds, notify, dead_letter,
  deferred_count, queued_count, ready_count, active_count, failed_count, total_count,
  table_name, created_on, updated_on
FROM __SCHEMA__.queue
WHERE %(names)s::text[] IS NULL OR name = ANY(%(names)s::text[])
ORDER BY name

-- name: job_columns_min
-- Fragment: the columns a worker needs (pg-boss JOB_COLUMNS_MIN), named as Job's fields.
j.id, j.name, j.data, j.retry_count, j.expire_seconds AS expire_in_seconds, j.heartbeat_seconds, j.group_id,
j.group_tier

-- name: job_columns_all
-- Fragment: every column a job carries (pg-boss JOB_COLUMNS_ALL), named as Job's fields.
j.id, j.name, j.data, j.retry_count, j.expire_seconds AS expire_in_seconds, j.heartbeat_seconds, j.group_id,
j.group_tier, j.policy, j.state, j.priority, j.retry_limit, j.retry_delay, j.retry_backoff, j.retry_delay_max,
j.start_after, j.started_on, j.singleton_key, j.singleton_on, j.deletion_seconds AS delete_after_seconds,
j.heartbeat_on, j.created_on, j.completed_on, j.keep_until, j.dead_letter, j.blocked, j.output, j.source_name,
j.source_id, j.source_created_on, j.source_retry_count

-- name: insert_jobs_body
-- Fragment: insert a JSON array of jobs (one round trip); conflicting rows are skipped (policy or throttle).
INSERT INTO __SCHEMA__.__TABLE__ (
  id, name, data, priority, start_after, created_on, singleton_key, singleton_on, group_id,
  group_tier, expire_seconds, deletion_seconds, keep_until, retry_limit, retry_delay, retry_backoff,
  retry_delay_max, policy, dead_letter, heartbeat_seconds, blocked, blocking, pending_dependencies
)
SELECT
  COALESCE(id, gen_random_uuid()),
  %(name)s,
  data,
  COALESCE(priority, 0),
  j.start_after,
  __SCHEMA__.job_now(),
  "singletonKey",
  CASE
    WHEN "singletonSlot" IS NOT NULL THEN CAST("singletonSlot" AS timestamp)
    WHEN "singletonSeconds" IS NOT NULL THEN 'epoch'::timestamp + '1s'::interval * ("singletonSeconds"::float8 * floor((date_part('epoch', __SCHEMA__.job_now()) + COALESCE("singletonOffset", 0)::float8) / "singletonSeconds"::float8))
    ELSE NULL
  END,
  "groupId",
  "groupTier",
  COALESCE("expireInSeconds", q.expire_seconds, 900),
  COALESCE("deleteAfterSeconds", q.deletion_seconds, 604800),
  j.start_after + (COALESCE("retentionSeconds", q.retention_seconds, 1209600) * interval '1s'),
  COALESCE("retryLimit", q.retry_limit, 2),
  COALESCE("retryDelay", q.retry_delay, 0),
  COALESCE("retryBackoff", q.retry_backoff, false),
  COALESCE("retryDelayMax", q.retry_delay_max),
  q.policy,
  COALESCE("deadLetter", q.dead_letter),
  COALESCE("heartbeatSeconds", q.heartbeat_seconds),
  COALESCE(blocked, false),
  COALESCE(blocking, false),
  COALESCE("pendingDependencies", 0)
FROM (
  SELECT *,
    CASE
      WHEN (right("startAfter", 1) = 'Z' OR "startAfter" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN CAST("startAfter" AS timestamp with time zone)
      ELSE __SCHEMA__.job_now() + CAST(COALESCE("startAfter", '0') AS interval)
    END AS start_after
  FROM json_to_recordset(%(jobs)s::text::json) AS x (
    id uuid, priority integer, data jsonb, "startAfter" text, "retryLimit" integer,
    "retryDelay" integer, "retryDelayMax" integer, "retryBackoff" boolean, "singletonKey" text,
    "singletonSeconds" integer, "singletonOffset" integer, "singletonSlot" text, "groupId" text,
    "groupTier" text, "expireInSeconds" integer, "deleteAfterSeconds" integer,
    "retentionSeconds" integer, "deadLetter" text, "heartbeatSeconds" integer, blocked boolean,
    blocking boolean, "pendingDependencies" integer
  )
) j
LEFT JOIN __SCHEMA__.queue q ON q.name = %(name)s
ON CONFLICT DO NOTHING

-- name: insert_data_body
-- Fragment: insert_jobs_body for jobs that carry only data (a JSON array of the data values), the bulk
-- insert's common case. Same rows as insert_jobs_body gives such jobs (every option falls back to the
-- queue's setting or pg-boss's default, start_after = now), without expanding 22 recordset columns.
-- __ON_CONFLICT__ is ON CONFLICT DO NOTHING, or nothing on a standard queue, where such rows cannot
-- conflict (see PgBoss.insert: a unique violation there falls back to the skipping form).
INSERT INTO __SCHEMA__.__TABLE__ (
  id, name, data, priority, start_after, created_on, singleton_key, singleton_on, group_id,
  group_tier, expire_seconds, deletion_seconds, keep_until, retry_limit, retry_delay, retry_backoff,
  retry_delay_max, policy, dead_letter, heartbeat_seconds, blocked, blocking, pending_dependencies
)
SELECT
  gen_random_uuid(),
  %(name)s,
  CASE WHEN json_typeof(x.value) = 'null' THEN NULL ELSE x.value::jsonb END,
  0,
  __SCHEMA__.job_now(),
  __SCHEMA__.job_now(),
  NULL,
  NULL,
  NULL,
  NULL,
  COALESCE(q.expire_seconds, 900),
  COALESCE(q.deletion_seconds, 604800),
  __SCHEMA__.job_now() + (COALESCE(q.retention_seconds, 1209600) * interval '1s'),
  COALESCE(q.retry_limit, 2),
  COALESCE(q.retry_delay, 0),
  COALESCE(q.retry_backoff, false),
  q.retry_delay_max,
  q.policy,
  q.dead_letter,
  q.heartbeat_seconds,
  false,
  false,
  0
FROM json_array_elements(%(jobs)s::text::json) AS x
LEFT JOIN __SCHEMA__.queue q ON q.name = %(name)s
__ON_CONFLICT__

-- name: insert_jobs
-- Insert jobs (__INSERT__: insert_jobs_body or insert_data_body); the rows inserted, for their ids.
__INSERT__
RETURNING id, start_after

-- name: insert_jobs_quiet
-- Insert jobs without handing back a row per job (insert() without return_id, as pg-boss does).
__INSERT__

-- name: insert_jobs_notify
-- insert_jobs plus one pg_notify in the same statement when a row is runnable now (pg-boss notify).
WITH ins AS (
  __INSERT__
  RETURNING id, start_after
),
notified AS (
  SELECT pg_notify(%(channel)s, %(name)s) FROM ins WHERE start_after <= __SCHEMA__.job_now() LIMIT 1
)
SELECT id, start_after FROM ins WHERE (SELECT count(*) FROM notified) >= 0

-- name: insert_jobs_notify_quiet
-- insert_jobs_notify returning no rows (pg-boss's `< 0` comparator when ids are not asked for).
WITH ins AS (
  __INSERT__
  RETURNING id, start_after
),
notified AS (
  SELECT pg_notify(%(channel)s, %(name)s) FROM ins WHERE start_after <= __SCHEMA__.job_now() LIMIT 1
)
SELECT id FROM ins WHERE (SELECT count(*) FROM notified) < 0

-- name: fetch_standard
-- Claim the next jobs: priority first, then creation order, SKIP LOCKED; retry_count counts re-fetches.
-- pg-boss joins the UPDATE to `next`; when the table's statistics predate the queue's rows (autovacuum
-- analysed it while the queue was empty), that join is planned as a nested loop over a scan of the
-- whole table per claimed row (~150 ms per 100 jobs, for pg-boss too). The claimed rows reach the
-- UPDATE by their tuple ids instead (a TID scan whatever the statistics, and no primary-key descent
-- per row: ~0.2 ms less server time a batch of 100). The rows are locked from here to the commit, so
-- no one else can move them; a row another transaction updated between this statement's snapshot and
-- the lock is left out of the UPDATE (the version locked is not the one the snapshot sees) and stays
-- for the next fetch: never lost, never claimed twice. An UPDATE cannot order the
-- rows it returns, so each carries its place in the claim order (claim_position) and the caller sorts
-- by it: sorting here would wrap the UPDATE in a CTE, ~0.1 ms more server time a batch of 100. The
-- statement has a sound generic plan (i11 scan, TID scan), reused when no priority bound is given.
-- Same rows locked, same state changes.
WITH next AS (
  SELECT j.id, j.ctid
  FROM __SCHEMA__.__TABLE__ j
  WHERE j.name = %(name)s
    AND j.state < 'active'
    AND NOT j.blocked
    AND j.start_after <= __SCHEMA__.job_now()
    AND (%(min_priority)s::int IS NULL OR j.priority >= %(min_priority)s::int)
    AND (%(max_priority)s::int IS NULL OR j.priority <= %(max_priority)s::int)
  ORDER BY j.priority DESC, j.created_on
  LIMIT %(limit)s
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE __SCHEMA__.__TABLE__ j SET
  state = 'active',
  started_on = __SCHEMA__.job_now(),
  heartbeat_on = __SCHEMA__.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END
WHERE name = %(name)s AND j.ctid = ANY (ARRAY(SELECT ctid FROM next))
RETURNING __COLUMNS__, array_position(ARRAY(SELECT id FROM next), j.id) AS claim_position

-- name: fetch_standard_single
-- fetch_standard for batch_size 1 (one row, so no order to keep): the claimed id reaches the UPDATE as
-- an uncorrelated array InitPlan (pg-boss's own shape for group concurrency), so the statement has a
-- sound generic plan (i11 scan, pkey lookup) and is run on a connection that reuses it, without
-- re-planning per call. Same rows locked, same state changes.
WITH next AS (
  SELECT j.id
  FROM __SCHEMA__.__TABLE__ j
  WHERE j.name = %(name)s
    AND j.state < 'active'
    AND NOT j.blocked
    AND j.start_after <= __SCHEMA__.job_now()
    AND (%(min_priority)s::int IS NULL OR j.priority >= %(min_priority)s::int)
    AND (%(max_priority)s::int IS NULL OR j.priority <= %(max_priority)s::int)
  ORDER BY j.priority DESC, j.created_on
  LIMIT 1
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE __SCHEMA__.__TABLE__ j SET
  state = 'active',
  started_on = __SCHEMA__.job_now(),
  heartbeat_on = __SCHEMA__.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END
WHERE name = %(name)s AND j.id = ANY (ARRAY(SELECT id FROM next))
RETURNING __COLUMNS__

-- name: fetch_singleton
-- Claim for singleton/stately queues: skip keys already active, one job per key per batch.
WITH next AS (
  SELECT j.id, j.singleton_key
  FROM __SCHEMA__.__TABLE__ j
  WHERE j.name = %(name)s
    AND j.state < 'active'
    AND NOT j.blocked
    AND j.start_after <= __SCHEMA__.job_now()
    AND NOT EXISTS (
      SELECT 1 FROM __SCHEMA__.__TABLE__ singleton_probe
      WHERE singleton_probe.name = j.name
        AND singleton_probe.state = 'active'
        AND singleton_probe.policy = %(policy)s
        AND COALESCE(singleton_probe.singleton_key, '') = COALESCE(j.singleton_key, '')
    )
    AND (%(min_priority)s::int IS NULL OR j.priority >= %(min_priority)s::int)
    AND (%(max_priority)s::int IS NULL OR j.priority <= %(max_priority)s::int)
  ORDER BY j.priority DESC, j.created_on
  LIMIT %(limit)s
  FOR UPDATE OF j SKIP LOCKED
), singleton_ranking AS (
  SELECT id, row_number() OVER (PARTITION BY singleton_key) AS singleton_rn FROM next
)
UPDATE __SCHEMA__.__TABLE__ j SET
  state = 'active',
  started_on = __SCHEMA__.job_now(),
  heartbeat_on = __SCHEMA__.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END
FROM singleton_ranking
WHERE name = %(name)s AND j.id = singleton_ranking.id AND singleton_rn = 1
RETURNING __COLUMNS__

-- name: fetch_key_strict_fifo
-- Claim for key_strict_fifo queues: only each key's head, and only while no sibling is active/retry/failed.
WITH strict_fifo_heads AS MATERIALIZED (
  SELECT DISTINCT ON (h.singleton_key) h.id
  FROM __SCHEMA__.__TABLE__ h
  WHERE h.name = %(name)s
    AND h.state < 'active'
    AND NOT h.blocked
    AND h.policy = 'key_strict_fifo'
    AND h.start_after <= __SCHEMA__.job_now()
  ORDER BY h.singleton_key, h.state DESC, h.created_on, h.id
), next AS (
  SELECT j.id
  FROM __SCHEMA__.__TABLE__ j
  WHERE j.name = %(name)s
    AND j.state < 'active'
    AND NOT j.blocked
    AND j.start_after <= __SCHEMA__.job_now()
    AND j.id IN (SELECT id FROM strict_fifo_heads)
    AND NOT EXISTS (
      SELECT 1 FROM __SCHEMA__.__TABLE__ b
      WHERE b.name = j.name
        AND b.singleton_key = j.singleton_key
        AND b.state IN ('active', 'retry', 'failed')
        AND b.policy = 'key_strict_fifo'
        AND b.id <> j.id
    )
    AND (%(min_priority)s::int IS NULL OR j.priority >= %(min_priority)s::int)
    AND (%(max_priority)s::int IS NULL OR j.priority <= %(max_priority)s::int)
  ORDER BY j.priority DESC, j.created_on
  LIMIT %(limit)s
  FOR UPDATE OF j SKIP LOCKED
)
UPDATE __SCHEMA__.__TABLE__ j SET
  state = 'active',
  started_on = __SCHEMA__.job_now(),
  heartbeat_on = __SCHEMA__.job_now(),
  retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END
FROM next
WHERE name = %(name)s AND j.id = next.id
RETURNING __COLUMNS__

-- name: complete_jobs
-- Complete active jobs (or queued ones with include_queued); attempts, when given, fence stale workers.
WITH results AS (
  UPDATE __SCHEMA__.__TABLE__
  SET completed_on = __SCHEMA__.job_now(),
    state = 'completed',
    output = %(output)s::jsonb,
    blocked = CASE WHEN %(include_queued)s THEN false ELSE blocked END,
    pending_dependencies = CASE WHEN %(include_queued)s THEN 0 ELSE pending_dependencies END
  WHERE name = %(name)s
    AND id = ANY(%(ids)s::uuid[])
    AND (state = 'active' OR (%(include_queued)s AND state < 'completed'))
    AND (%(attempts)s::text[] IS NULL OR (state = 'active' AND (id::text || ':' || retry_count::text) = ANY(%(attempts)s::text[])))
  RETURNING id
)
SELECT count(*) AS affected FROM results

-- name: fail_jobs_body
-- Fragment (pg-boss failJobsBody): delete the matched jobs, re-insert as retry (with delay/backoff) or failed, copy failed ones with a dead letter into that queue.
deleted_jobs AS (
  DELETE FROM __SCHEMA__.__TABLE__
  WHERE __WHERE__
  RETURNING *
),
retried_jobs AS (
  INSERT INTO __SCHEMA__.__TABLE__ (
    id, name, priority, data, state, retry_limit, retry_count, retry_delay, retry_backoff,
    retry_delay_max, start_after, started_on, singleton_key, singleton_on, group_id, group_tier,
    expire_seconds, deletion_seconds, created_on, completed_on, keep_until, policy, output,
    dead_letter, heartbeat_on, heartbeat_seconds, blocked, blocking, pending_dependencies,
    source_name, source_id, source_created_on, source_retry_count, source_output, source_root_id,
    trace_context
  )
  SELECT
    id, name, priority, data,
    CASE WHEN retry_count < retry_limit THEN 'retry'::__SCHEMA__.job_state ELSE 'failed'::__SCHEMA__.job_state END,
    retry_limit, retry_count, retry_delay, retry_backoff, retry_delay_max,
    CASE WHEN retry_count = retry_limit THEN start_after
         WHEN NOT retry_backoff THEN __SCHEMA__.job_now() + retry_delay * interval '1'
         ELSE __SCHEMA__.job_now() + LEAST(
           retry_delay_max,
           GREATEST(retry_delay, 1) * (
             2 ^ LEAST(16, retry_count + 1) / 2 +
             2 ^ LEAST(16, retry_count + 1) / 2 * random()
           )
         ) * interval '1s'
    END,
    started_on, singleton_key, singleton_on, group_id, group_tier, expire_seconds,
    deletion_seconds, created_on,
    CASE WHEN retry_count < retry_limit THEN NULL ELSE __SCHEMA__.job_now() END,
    keep_until, policy, __OUTPUT__, dead_letter, NULL, heartbeat_seconds, blocked, blocking,
    pending_dependencies, source_name, source_id, source_created_on, source_retry_count,
    source_output, source_root_id, trace_context
  FROM deleted_jobs
  ON CONFLICT DO NOTHING
  RETURNING *
),
failed_jobs AS (
  INSERT INTO __SCHEMA__.__TABLE__ (
    id, name, priority, data, state, retry_limit, retry_count, retry_delay, retry_backoff,
    retry_delay_max, start_after, started_on, singleton_key, singleton_on, group_id, group_tier,
    expire_seconds, deletion_seconds, created_on, completed_on, keep_until, policy, output,
    dead_letter, heartbeat_on, heartbeat_seconds, blocked, blocking, pending_dependencies,
    source_name, source_id, source_created_on, source_retry_count, source_output, source_root_id,
    trace_context
  )
  SELECT
    id, name, priority, data, 'failed'::__SCHEMA__.job_state, retry_limit, retry_count,
    retry_delay, retry_backoff, retry_delay_max, start_after, started_on, singleton_key,
    singleton_on, group_id, group_tier, expire_seconds, deletion_seconds, created_on,
    __SCHEMA__.job_now(), keep_until, policy, __OUTPUT__, dead_letter, NULL, heartbeat_seconds,
    blocked, blocking, pending_dependencies, source_name, source_id, source_created_on,
    source_retry_count, source_output, source_root_id, trace_context
  FROM deleted_jobs
  WHERE id NOT IN (SELECT id FROM retried_jobs)
  RETURNING *
),
results AS (
  SELECT * FROM retried_jobs
  UNION ALL
  SELECT * FROM failed_jobs
),
dlq_jobs AS (
  INSERT INTO __SCHEMA__.job (name, priority, data, retry_limit, retry_backoff, retry_delay,
    start_after, created_on, keep_until, deletion_seconds, expire_seconds, singleton_key, group_id,
    group_tier, heartbeat_seconds, source_name, source_id, source_created_on, source_retry_count,
    source_output, source_root_id, trace_context)
  SELECT
    r.dead_letter, r.priority, r.data, q.retry_limit, q.retry_backoff, q.retry_delay,
    __SCHEMA__.job_now(), __SCHEMA__.job_now(),
    __SCHEMA__.job_now() + q.retention_seconds * interval '1s', q.deletion_seconds,
    q.expire_seconds, r.singleton_key, r.group_id, r.group_tier, q.heartbeat_seconds, r.name,
    r.id, r.created_on, r.retry_count, r.output, COALESCE(r.source_root_id, r.id), r.trace_context
  FROM results r
    JOIN __SCHEMA__.queue q ON q.name = r.dead_letter
  WHERE state = 'failed'
)

-- name: fail_jobs
-- Fail jobs by id (created, retry or active) through the retry path; attempts, when given, fence stale workers.
WITH __FAIL_BODY__
SELECT count(*) AS affected FROM results

-- name: fail_jobs_where
-- Fragment: which rows fail_jobs fails.
name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state < 'completed'
  AND (%(attempts)s::text[] IS NULL OR (state = 'active' AND (id::text || ':' || retry_count::text) = ANY(%(attempts)s::text[])))

-- name: expire_jobs
-- One batch of the supervisor's expiry sweep (job timed out / heartbeat timeout) through the retry path.
WITH picked AS (
  SELECT id FROM __SCHEMA__.__TABLE__ WHERE __PREDICATE__ LIMIT %(limit)s
),
__FAIL_BODY__
SELECT (SELECT count(*) FROM picked)::int AS picked

-- name: timed_out_predicate
-- Fragment: active jobs past started_on + expire_seconds.
state = 'active'
  AND (started_on + expire_seconds * interval '1s') < __SCHEMA__.job_now()
  AND name = ANY(%(queues)s::text[])

-- name: heartbeat_lost_predicate
-- Fragment: active jobs whose heartbeat is older than heartbeat_seconds.
state = 'active'
  AND heartbeat_seconds IS NOT NULL
  AND (heartbeat_on + heartbeat_seconds * interval '1s') < __SCHEMA__.job_now()
  AND name = ANY(%(queues)s::text[])

-- name: cancel_jobs
-- Cancel jobs not yet finished.
WITH results AS (
  UPDATE __SCHEMA__.__TABLE__
  SET completed_on = __SCHEMA__.job_now(), state = 'cancelled'
  WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state < 'completed'
  RETURNING id
)
SELECT count(*) AS affected FROM results

-- name: resume_jobs
-- Put cancelled jobs back to created; start_after moves up to now.
WITH results AS (
  UPDATE __SCHEMA__.__TABLE__ j
  SET completed_on = NULL, state = 'created', upsert_by_key = NULL,
    start_after = GREATEST(j.start_after, __SCHEMA__.job_now())
  WHERE j.name = %(name)s AND j.id = ANY(%(ids)s::uuid[]) AND j.state = 'cancelled'
  RETURNING id
)
SELECT count(*) AS affected FROM results

-- name: retry_jobs
-- Give failed jobs one more attempt (retry_limit + 1).
WITH results AS (
  UPDATE __SCHEMA__.job
  SET state = 'retry', retry_limit = retry_limit + 1, completed_on = NULL,
    start_after = GREATEST(start_after, __SCHEMA__.job_now())
  WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state = 'failed'
  RETURNING 1
)
SELECT count(*) AS affected FROM results

-- name: delete_jobs
-- Delete jobs in any state.
WITH results AS (
  DELETE FROM __SCHEMA__.__TABLE__
  WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[])
  RETURNING id
)
SELECT count(*) AS affected FROM results

-- name: touch_jobs
-- Refresh the heartbeat of active jobs.
WITH results AS (
  UPDATE __SCHEMA__.__TABLE__
  SET heartbeat_on = __SCHEMA__.job_now()
  WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[]) AND state = 'active'
  RETURNING id
)
SELECT count(*) AS affected FROM results

-- name: redrive_jobs
-- Move queued dead-letter jobs back to their source queue (or a destination) as new jobs, oldest first.
WITH candidates AS (
  SELECT j.id, gen_random_uuid() AS new_id
  FROM __SCHEMA__.__TABLE__ j
  JOIN __SCHEMA__.queue q ON q.name = COALESCE(%(destination)s::text, j.source_name)
  WHERE j.name = %(name)s
    AND j.state < 'active'
    AND NOT EXISTS (
      SELECT 1 FROM __SCHEMA__.__TABLE__ k
      WHERE j.policy = 'key_strict_fifo'
        AND k.name = j.name
        AND k.singleton_key = j.singleton_key
        AND k.policy = 'key_strict_fifo'
        AND k.state IN ('active', 'retry', 'failed')
    )
  ORDER BY j.created_on
  LIMIT %(limit)s
  FOR UPDATE OF j SKIP LOCKED
),
ins AS (
  INSERT INTO __SCHEMA__.job (id, name, data, priority, retry_limit, retry_backoff, retry_delay,
    retry_delay_max, expire_seconds, start_after, created_on, keep_until, deletion_seconds, policy,
    singleton_key, group_id, group_tier, heartbeat_seconds, dead_letter, source_root_id, trace_context)
  SELECT c.new_id, COALESCE(%(destination)s::text, m.source_name), m.data, m.priority,
    q.retry_limit, q.retry_backoff, q.retry_delay, q.retry_delay_max, q.expire_seconds,
    __SCHEMA__.job_now(), __SCHEMA__.job_now(),
    __SCHEMA__.job_now() + q.retention_seconds * interval '1s', q.deletion_seconds, q.policy,
    m.singleton_key, m.group_id, m.group_tier, q.heartbeat_seconds, q.dead_letter,
    COALESCE(m.source_root_id, m.source_id), m.trace_context
  FROM candidates c
    JOIN __SCHEMA__.__TABLE__ m ON m.name = %(name)s AND m.id = c.id
    JOIN __SCHEMA__.queue q ON q.name = COALESCE(%(destination)s::text, m.source_name)
  ORDER BY m.created_on
  ON CONFLICT DO NOTHING
  RETURNING id
),
settled AS (
  SELECT c.id, (i.id IS NOT NULL) AS inserted
  FROM candidates c LEFT JOIN ins i ON i.id = c.new_id
),
removed AS (
  DELETE FROM __SCHEMA__.__TABLE__
  WHERE name = %(name)s AND id IN (SELECT id FROM settled WHERE inserted)
),
conflicted AS (
  UPDATE __SCHEMA__.__TABLE__ j
  SET state = 'failed',
    completed_on = __SCHEMA__.job_now(),
    source_output = COALESCE(j.source_output, j.output),
    output = jsonb_build_object(
      'message', 'Not redriven: queue ' || q.name || CASE
        WHEN j.singleton_key IS NULL THEN ' already has a job this one conflicts with'
        ELSE ' already has a job with singletonKey ' || j.singleton_key
      END || ' under its ' || COALESCE(q.policy, 'standard') || ' policy',
      'reason', 'redrive_conflict',
      'destination', q.name,
      'policy', q.policy,
      'singletonKey', j.singleton_key)
  FROM settled s, __SCHEMA__.queue q
  WHERE j.name = %(name)s
    AND j.id = s.id
    AND NOT s.inserted
    AND q.name = COALESCE(%(destination)s::text, j.source_name)
)
SELECT count(*)::int AS moved FROM ins

-- name: get_job_by_id
-- One job with every column.
SELECT __COLUMNS__ FROM __SCHEMA__.__TABLE__ j WHERE j.name = %(name)s AND j.id = %(id)s::uuid

-- name: find_jobs
-- Jobs of a queue filtered by id, singleton key, data containment and queued state.
SELECT __COLUMNS__
FROM __SCHEMA__.__TABLE__ j
WHERE name = %(name)s
  AND (%(id)s::uuid IS NULL OR id = %(id)s::uuid)
  AND (%(key)s::text IS NULL OR singleton_key = %(key)s::text)
  AND (%(data)s::jsonb IS NULL OR data @> %(data)s::jsonb)
  AND (NOT %(queued)s OR state < 'active')
ORDER BY created_on, id

-- name: get_job_states
-- State of each of a list of job ids in one queue (adapter state lookups).
SELECT id, state, retry_count, retry_limit, output FROM __SCHEMA__.job WHERE name = %(name)s AND id = ANY(%(ids)s::uuid[])

-- name: queue_counts
-- Live counts of one queue, as pg-boss's monitor computes them.
SELECT
  count(*) FILTER (WHERE state < 'active' AND start_after > __SCHEMA__.job_now())::int AS deferred_count,
  count(*) FILTER (WHERE state < 'active')::int AS queued_count,
  count(*) FILTER (WHERE state < 'active' AND start_after <= __SCHEMA__.job_now() AND NOT blocked)::int AS ready_count,
  count(*) FILTER (WHERE state = 'active')::int AS active_count,
  count(*) FILTER (WHERE state = 'failed')::int AS failed_count,
  count(*)::int AS total_count
FROM __SCHEMA__.__TABLE__
WHERE name = %(name)s

-- name: cache_queue_counts
-- Store a queue's counts on its queue row, where pg-boss's getQueueStats reads them.
UPDATE __SCHEMA__.queue SET deferred_count = %(deferred_count)s, queued_count = %(queued_count)s,
  ready_count = %(ready_count)s, active_count = %(active_count)s, failed_count = %(failed_count)s,
  total_count = %(total_count)s
WHERE name = %(name)s

-- name: claim_queue_monitor
-- Claim queues whose monitor interval has elapsed (multi-instance safe).
UPDATE __SCHEMA__.queue SET monitor_on = __SCHEMA__.job_now()
WHERE name = ANY(%(queues)s::text[])
  AND (monitor_on IS NULL OR EXTRACT(EPOCH FROM (__SCHEMA__.job_now() - monitor_on)) >= %(seconds)s)
RETURNING name, table_name

-- name: claim_queue_maintenance
-- Claim queues whose maintenance (deletion) interval has elapsed.
UPDATE __SCHEMA__.queue SET maintain_on = __SCHEMA__.job_now()
WHERE name = ANY(%(queues)s::text[])
  AND (maintain_on IS NULL OR EXTRACT(EPOCH FROM (__SCHEMA__.job_now() - maintain_on)) >= %(seconds)s)
RETURNING name, table_name

-- name: delete_expired_jobs
-- Retention: delete finished jobs past deletion_seconds and never-started jobs past keep_until.
WITH removed AS (
  DELETE FROM __SCHEMA__.__TABLE__
  WHERE name = ANY(%(queues)s::text[])
    AND ((deletion_seconds > 0 AND completed_on + deletion_seconds * interval '1s' < __SCHEMA__.job_now())
      OR (state < 'active' AND keep_until < __SCHEMA__.job_now()))
  RETURNING 1
)
SELECT count(*)::int AS deleted FROM removed

-- name: schedule
-- Create or replace a cron schedule for a queue.
INSERT INTO __SCHEMA__.schedule (name, key, kind, cron, timezone, data, options, created_on, updated_on)
VALUES (%(name)s, %(key)s, 'cron', %(cron)s, %(tz)s, %(data)s::jsonb, %(options)s::jsonb, __SCHEMA__.job_now(), __SCHEMA__.job_now())
ON CONFLICT (name, key) DO UPDATE SET
  kind = EXCLUDED.kind, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, data = EXCLUDED.data,
  options = EXCLUDED.options, updated_on = __SCHEMA__.job_now()

-- name: unschedule
-- Remove a schedule.
DELETE FROM __SCHEMA__.schedule WHERE name = %(name)s AND COALESCE(key, '') = %(key)s

-- name: get_schedules
-- Schedules, of one queue or all.
SELECT name, key, kind, cron, COALESCE(timezone, 'UTC') AS timezone, data, options, created_on, updated_on, last_job_id
FROM __SCHEMA__.schedule
WHERE %(name)s::text IS NULL OR name = %(name)s::text
ORDER BY name, key

-- name: set_schedule_last_job_ids
-- Record the job each schedule fired last.
UPDATE __SCHEMA__.schedule s SET last_job_id = x."jobId"
FROM json_to_recordset(%(fired)s::text::json) AS x (name text, key text, "jobId" uuid)
WHERE s.name = x.name AND COALESCE(s.key, '') = x.key

-- name: try_set_cron_time
-- Claim this cron pass across instances: whoever moves version.cron_on runs it.
UPDATE __SCHEMA__.version SET cron_on = __SCHEMA__.job_now()
WHERE EXTRACT(EPOCH FROM (__SCHEMA__.job_now() - COALESCE(cron_on, __SCHEMA__.job_now() - interval '1 week'))) >= %(seconds)s
RETURNING round(date_part('epoch', __SCHEMA__.job_now()) * 1000)::bigint AS now_ms

-- name: subscribe
-- Subscribe a queue to an event.
INSERT INTO __SCHEMA__.subscription (event, name, created_on, updated_on)
VALUES (%(event)s, %(name)s, __SCHEMA__.job_now(), __SCHEMA__.job_now())
ON CONFLICT (event, name) DO UPDATE SET updated_on = __SCHEMA__.job_now()

-- name: unsubscribe
-- Remove a queue's subscription to an event.
DELETE FROM __SCHEMA__.subscription WHERE event = %(event)s AND name = %(name)s

-- name: get_queues_for_event
-- Queues subscribed to an event.
SELECT name FROM __SCHEMA__.subscription WHERE event = %(event)s ORDER BY name

-- name: insert_dependencies
-- Record flow edges (child waits on parent).
INSERT INTO __SCHEMA__.job_dependency (child_name, child_id, parent_name, parent_id)
SELECT * FROM json_to_recordset(%(deps)s::text::json) AS x (child_name text, child_id uuid, parent_name text, parent_id uuid)
ON CONFLICT DO NOTHING

-- name: resolve_flow
-- Unblock children whose parents have all completed (pg-boss's background flow resolver).
WITH parents AS (
  SELECT name, id FROM __SCHEMA__.job WHERE blocking AND state = 'completed' LIMIT 1000 FOR UPDATE SKIP LOCKED
), edges AS (
  DELETE FROM __SCHEMA__.job_dependency d USING parents p
  WHERE d.parent_name = p.name AND d.parent_id = p.id
  RETURNING d.child_name, d.child_id
), decremented AS (
  SELECT child_name, child_id, count(*)::int AS n FROM edges GROUP BY child_name, child_id
), unblocked AS (
  UPDATE __SCHEMA__.job j
  SET pending_dependencies = GREATEST(j.pending_dependencies - d.n, 0),
    blocked = GREATEST(j.pending_dependencies - d.n, 0) > 0,
    start_after = CASE WHEN GREATEST(j.pending_dependencies - d.n, 0) = 0
      THEN GREATEST(j.start_after, __SCHEMA__.job_now()) ELSE j.start_after END
  FROM decremented d
  WHERE j.name = d.child_name AND j.id = d.child_id AND j.blocked
  RETURNING j.id
), cleared AS (
  UPDATE __SCHEMA__.job j SET blocking = false FROM parents p WHERE j.name = p.name AND j.id = p.id
)
SELECT count(*)::int AS unblocked FROM unblocked

-- name: listen
-- Subscribe the listener connection to this schema's pg-boss notification channel (hex name, rendered).
LISTEN __CHANNEL__

-- name: listener_heartbeat
-- Keep-alive on the LISTEN connection, so a dead socket is noticed.
SELECT 1

-- name: failed_since
-- Jobs of a queue that reached failed after a moment (the arm reconciles outcomes of expired jobs).
SELECT __COLUMNS__
FROM __SCHEMA__.__TABLE__ j
WHERE j.name = %(name)s AND j.state = 'failed' AND j.completed_on > %(since)s
ORDER BY j.completed_on
LIMIT 1000

-- name: settled_since
-- Jobs of a queue that completed or failed after a moment (outcomes a dead worker never recorded).
SELECT __COLUMNS__
FROM __SCHEMA__.__TABLE__ j
WHERE j.name = %(name)s AND j.state IN ('completed', 'failed') AND j.completed_on > %(since)s
ORDER BY j.completed_on
LIMIT 1000
