"""``PgBoss``: pg-boss 12's public API in Python (snake_case, synchronous), on pg-boss's own schema.

One flat surface of thin methods, one statement each, as pg-boss's ``manager.ts`` is. The
background parts live beside it: :mod:`.worker` (poll loops), :mod:`.notifier` (LISTEN/NOTIFY),
:mod:`.supervisor` (expiry, heartbeats, retention, flows) and :mod:`.timekeeper` (cron).

Differences from pg-boss are deliberate and listed in ``docs/pgboss.md`` (LISTEN/NOTIFY on by
default; queues notify by default; counts from ``get_queue_stats`` are computed live).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from bakeoff.backends.pgboss import options as opt
from bakeoff.backends.pgboss.db import Database
from bakeoff.backends.pgboss.errors import PgBossInputError, QueueNotFound
from bakeoff.backends.pgboss.installer import ensure_installed
from bakeoff.backends.pgboss.models import CommandResult, Job, PgBossConfig, Queue, QueueStats, Schedule
from bakeoff.backends.pgboss.notifier import Notifier
from bakeoff.backends.pgboss.store import PgBossQueries
from bakeoff.backends.pgboss.supervisor import Supervisor
from bakeoff.backends.pgboss.timekeeper import Timekeeper
from bakeoff.backends.pgboss.worker import Handler, SettleHook, Worker, WorkOptions

__all__ = ["PgBoss"]

logger = logging.getLogger(__name__)

QUEUE_CACHE_SECONDS = 60.0
_DATA_ONLY_KEYS = frozenset({"data", "name"})
"""The keys of an insert() job with no options (``name`` is ignored there, as pg-boss ignores it)."""
IdArg = str | Job | Sequence[str | Job]
_FETCH_QUERIES = {
    "singleton": "fetch_singleton",
    "stately": "fetch_singleton",
    "key_strict_fifo": "fetch_key_strict_fifo",
}
_GENERIC_PLAN_QUERIES = frozenset({"complete_jobs", "fail_jobs", "touch_jobs"})
"""A worker's settling statements: their generic plans are sound (pkey lookups), so they run with
plan reuse (see ``Database``) instead of being planned on every call."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _QueueInfo:
    """What a send or fetch needs to know about a queue, cached like pg-boss's queue cache."""

    table: str
    policy: str
    notify: bool
    expire_in_seconds: int
    loaded_at: float


_ARRAY_LITERAL_SAFE = re.compile(r"[0-9A-Fa-f:-]+(?:,[0-9A-Fa-f:-]+)*")
"""Items that can go into an array literal bare: hex digits, hyphens and colons (ids, ``id:attempt``)."""


def _array_param(items: list[str] | None) -> str | list[str] | None:
    """``items`` as one array literal (``{a,b}``) when every item is made of ``_ARRAY_LITERAL_SAFE``
    characters, else the list itself.

    psycopg escapes a list item by item (~1 µs an id, a tenth of a millisecond for a batch of 100);
    an id has nothing to escape, and anything else (a comma or brace inside an item, ``NULL``, an empty
    string) falls back to the list, so the server sees the same array either way.
    """
    if not items:
        return items
    joined = ",".join(items)
    bare = joined.count(",") == len(items) - 1 and _ARRAY_LITERAL_SAFE.fullmatch(joined)
    return "{" + joined + "}" if bare else items


def _claimed_jobs(rows: list[dict[str, Any]]) -> list[Job]:
    """Jobs of a fetch's rows, in claim order when the statement returns it (``claim_position``)."""
    if rows and "claim_position" in rows[0]:
        rows.sort(key=lambda row: row.pop("claim_position"))
    return [Job.from_row(row) for row in rows]


def _ids_and_attempts(ids: IdArg, call: str) -> tuple[list[str], list[str] | None]:
    """Ids from an id, a Job, or a list of either; Jobs also fence the attempt they were fetched at."""
    items: list[str | Job] = [ids] if isinstance(ids, str | Job) else list(ids)
    if not items:
        raise PgBossInputError(f"{call}() requires an id")
    if all(isinstance(item, str) for item in items):
        return [str(item) for item in items], None
    if not all(isinstance(item, Job) for item in items):
        raise PgBossInputError(f"{call}() requires either ids or jobs, not a mix")
    jobs = [item for item in items if isinstance(item, Job)]
    return [j.id for j in jobs], [f"{j.id}:{j.retry_count}" for j in jobs]


class PgBoss:
    """A pg-boss instance: queues, jobs, workers, schedules and events in one PostgreSQL schema."""

    def __init__(
        self,
        database_url: str,
        *,
        schema: str = "pgboss",
        use_listen_notify: bool = True,
        supervise: bool = True,
        schedule: bool = True,
        migrate: bool = True,
        supervise_interval_seconds: float = 60,
        monitor_interval_seconds: float = 60,
        maintenance_interval_seconds: float = 86_400,
        cron_monitor_interval_seconds: float = 30,
        cron_worker_interval_seconds: float = 5,
        flow_interval_seconds: float = 5,
        notify_polling_interval_seconds: float = 30,
        max_connections: int = 10,
        application_name: str = "pgboss",
    ) -> None:
        self.queries = PgBossQueries(schema)
        self.schema = schema
        self.use_listen_notify = use_listen_notify
        self.config = PgBossConfig(
            supervise=supervise,
            schedule=schedule,
            migrate=migrate,
            supervise_interval_seconds=supervise_interval_seconds,
            monitor_interval_seconds=monitor_interval_seconds,
            maintenance_interval_seconds=maintenance_interval_seconds,
            cron_monitor_interval_seconds=cron_monitor_interval_seconds,
            cron_worker_interval_seconds=cron_worker_interval_seconds,
            flow_interval_seconds=flow_interval_seconds,
            notify_polling_interval_seconds=notify_polling_interval_seconds,
        )
        self.db = Database(
            database_url,
            max_size=max_connections,
            application_name=application_name,
        )
        self._queue_cache: dict[str, _QueueInfo] = {}
        self._workers: dict[str, list[Worker]] = {}
        self._lock = threading.RLock()
        self._started = False
        self._stopping = False
        self.notifier = Notifier(self.db.url, self.queries, self._on_notify, self._on_listener_reconnect)
        self.supervisor = Supervisor(self.db, self.queries, self.config)
        self.timekeeper = Timekeeper(self, self.db, self.queries, self.config)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> PgBoss:
        """Open the pool, install or check the schema, start the listener and background tasks."""
        with self._lock:
            if self._started:
                return self
            self.db.open()
            if self.config.migrate:
                with self.db.connection() as conn:
                    ensure_installed(conn, self.queries)
            self._started = True
            self._stopping = False
            if self.use_listen_notify:
                self.notifier.start()
            if self.config.supervise:
                self.supervisor.start()
            if self.config.schedule:
                self.timekeeper.start()
        return self

    def stop(self, *, graceful: bool = True, timeout: float = 30) -> None:
        """Stop workers (waiting up to ``timeout`` when graceful), fail what they still hold, close."""
        with self._lock:
            if not self._started:
                return
            self._stopping = True
        workers = [w for group in list(self._workers.values()) for w in group]
        for worker in workers:
            worker.request_stop()
        if graceful:
            deadline = time.monotonic() + max(timeout, 1.0)
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
        self._fail_wip(workers)
        self.timekeeper.stop()
        self.supervisor.stop()
        self.notifier.stop()
        self._workers.clear()
        self.db.close()
        with self._lock:
            self._started = False

    def _fail_wip(self, workers: Iterable[Worker]) -> None:
        """pg-boss ``failWip``: jobs a worker still holds fail so they go through the retry path."""
        for worker in workers:
            held = worker.held_jobs()
            if held:
                try:
                    self.fail(worker.name, held, "pg-boss shut down while active")
                except Exception:
                    logger.exception("could not fail in-flight jobs of worker %s", worker.id)
            worker.abandon()

    @property
    def is_started(self) -> bool:
        return self._started

    # ---------------------------------------------------------------- queues

    def create_queue(self, name: str, **options: Any) -> None:
        """Create a queue (idempotent). Options as pg-boss's createQueue, in snake_case."""
        opt.check_queue_name(name)
        options.setdefault("notify", True)
        payload = opt.queue_payload(name, options)
        if payload.get("deadLetter"):
            self._require_queue(payload["deadLetter"])
        self.db.locked(
            [(self.queries.sql("create_queue"), {"name": name, "options": opt.dumps(payload)})],
            lock=self.queries.advisory_lock("create-queue"),
        )
        self._queue_cache.pop(name, None)

    def update_queue(self, name: str, **options: Any) -> None:
        """Change a queue's settings; the policy (and partitioning) can never change."""
        opt.check_queue_name(name)
        if not options:
            raise PgBossInputError("no properties found to update")
        queue = self._require_queue(name)
        if "policy" in options and options["policy"] != queue.policy:
            raise PgBossInputError("queue policy cannot be changed after creation")
        if "partition" in options and options["partition"] != queue.partition:
            raise PgBossInputError("queue partitioning cannot be changed after creation")
        merged = {"retry_backoff": queue.retry_backoff, **options}
        payload = opt.queue_payload(
            name, {k: v for k, v in merged.items() if k not in ("policy", "partition")}
        )
        if payload.get("deadLetter"):
            self._require_queue(payload["deadLetter"])
        self.db.rows(self.queries.sql("update_queue"), {"name": name, "options": opt.dumps(payload)})
        self._queue_cache.pop(name, None)

    def delete_queue(self, name: str) -> None:
        """Delete a queue and all its jobs (no-op when it does not exist)."""
        opt.check_queue_name(name)
        try:
            self.db.locked(
                [(self.queries.sql("delete_queue"), {"name": name})],
                lock=self.queries.advisory_lock("delete-queue"),
            )
        except pg_errors.ForeignKeyViolation as exc:
            raise PgBossInputError(
                f"queue {name} cannot be deleted: another queue or job names it as its dead_letter"
            ) from exc
        self._queue_cache.pop(name, None)

    def get_queue(self, name: str) -> Queue | None:
        """The queue's settings and cached counts, or None."""
        rows = self.db.rows(self.queries.sql("get_queues"), {"names": [name]})
        return Queue.from_row(rows[0]) if rows else None

    def get_queues(self, names: Sequence[str] | None = None) -> list[Queue]:
        """Every queue, or the named ones."""
        rows = self.db.rows(self.queries.sql("get_queues"), {"names": list(names) if names else None})
        return [Queue.from_row(row) for row in rows]

    def get_queue_stats(self, name: str) -> QueueStats:
        """Live counts of one queue's jobs (pg-boss reads a monitor-cached copy; ours is current)."""
        info = self._queue_info(name)
        row = self.db.one(self.queries.sql("queue_counts", table=info.table), {"name": name})
        assert row is not None
        return QueueStats(name=name, **row)

    def _require_queue(self, name: str) -> Queue:
        queue = self.get_queue(name)
        if queue is None:
            raise QueueNotFound(name)
        return queue

    def _queue_info(self, name: str, conn: object | None = None) -> _QueueInfo:
        info = self._queue_cache.get(name)
        if info is not None and time.monotonic() - info.loaded_at < QUEUE_CACHE_SECONDS:
            return info
        opt.check_queue_name(name)
        rows = self.db.rows(self.queries.sql("get_queues"), {"names": [name]}, conn=conn)
        if not rows:
            raise QueueNotFound(name)
        row = rows[0]
        info = _QueueInfo(
            table=row["table_name"],
            policy=row["policy"],
            notify=row["notify"],
            expire_in_seconds=row["expire_seconds"],
            loaded_at=time.monotonic(),
        )
        self._queue_cache[name] = info
        return info

    # ---------------------------------------------------------------- sending

    def send(self, name: str, data: Any = None, *, conn: object | None = None, **options: Any) -> str | None:
        """Create a job; its id, or None when a policy or throttle slot refused it."""
        opt.check_queue_name(name)
        next_slot = bool(options.get("singleton_next_slot"))
        job = opt.job_payload(data, options)
        return self._create_job(name, job, next_slot=next_slot, conn=conn)

    def send_after(self, name: str, data: Any, start_after: Any, **options: Any) -> str | None:
        """Send with ``start_after`` (seconds, ISO string or datetime)."""
        return self.send(name, data, start_after=start_after, **options)

    def send_throttled(
        self, name: str, data: Any, seconds: int, key: str | None = None, **options: Any
    ) -> str | None:
        """At most one job per ``seconds`` slot (per key); later sends in the slot return None."""
        options.update(singleton_seconds=seconds, singleton_next_slot=False, singleton_key=key)
        return self.send(name, data, **options)

    def send_debounced(
        self, name: str, data: Any, seconds: int, key: str | None = None, **options: Any
    ) -> str | None:
        """Like throttled, but a send in a taken slot is deferred into the next slot (once)."""
        options.update(singleton_seconds=seconds, singleton_next_slot=True, singleton_key=key)
        return self.send(name, data, **options)

    def _create_job(
        self, name: str, job: dict[str, Any], *, next_slot: bool, conn: object | None
    ) -> str | None:
        info = self._queue_info(name, conn)
        if info.policy == "key_strict_fifo" and not job.get("singletonKey"):
            raise PgBossInputError("key_strict_fifo queues require a singleton_key")
        rows = self._insert(name, info, [job], conn)
        if rows:
            return str(rows[0]["id"])
        if next_slot and job.get("singletonSeconds"):
            seconds = int(job["singletonSeconds"])
            job = {**job, "startAfter": str(opt.debounce_start_after(seconds, time.time() * 1000))}
            job["singletonOffset"] = seconds
            rows = self._insert(name, info, [job], conn)
            if rows:
                return str(rows[0]["id"])
        return None

    def _insert(
        self,
        name: str,
        info: _QueueInfo,
        jobs: list[Any],
        conn: object | None,
        *,
        data_only: bool = False,
        returning: bool = True,
    ) -> list[dict[str, Any]]:
        """Insert ``jobs`` (payloads, or bare data values when ``data_only``); the rows if ``returning``."""
        params = {"name": name, "jobs": opt.dumps(jobs), "channel": self.queries.channel}
        notify = self.use_listen_notify and info.notify
        # Data-only rows on a standard queue cannot hit a unique index (fresh random ids, no policy index
        # applies, no singleton_on, no upsert key), so they skip ON CONFLICT's speculative insertion
        # (~20% of the statement). Only on our own autocommit statement: should the queue's policy have
        # changed under the cache, the unique violation rolls back nothing but it, and the skipping form
        # runs instead, which gives pg-boss's result.
        plain = data_only and conn is None and info.policy == "standard"
        try:
            # Its plan does not depend on the values (a JSON recordset and one queue row): reuse it.
            sql = self.queries.insert_sql(
                table=info.table,
                data_only=data_only,
                notify=notify,
                returning=returning,
                skip_conflicts=not plain,
            )
            try:
                return self.db.rows(sql, params, conn=conn, generic=True)
            except pg_errors.UniqueViolation:
                if not plain:
                    raise
                logger.debug("insert into %s met a unique index; retrying with ON CONFLICT DO NOTHING", name)
                self._queue_cache.pop(name, None)
                sql = self.queries.insert_sql(
                    table=info.table, data_only=True, notify=notify, returning=returning
                )
                return self.db.rows(sql, params, conn=conn, generic=True)
        except pg_errors.ForeignKeyViolation as exc:
            self._queue_cache.pop(name, None)
            raise QueueNotFound(name) from exc

    def insert(
        self,
        name: str,
        jobs: Sequence[Mapping[str, Any]],
        *,
        return_id: bool = False,
        conn: object | None = None,
    ) -> list[str] | None:
        """Insert many jobs in one statement (conflicting ones are skipped); ids only with ``return_id``.

        Jobs that carry nothing but ``data`` (the common bulk case) have no options to check: they go
        to the server as one JSON array of their data values, expanded by ``insert_data_body`` into the
        same rows the general statement makes of them. Without ``return_id`` the statement hands back
        no rows, as pg-boss's does.
        """
        opt.check_queue_name(name)
        if all(job.keys() <= _DATA_ONLY_KEYS for job in jobs):
            info = self._queue_info(name, conn)
            if not jobs:
                return [] if return_id else None
            if info.policy == "key_strict_fifo":
                raise PgBossInputError("key_strict_fifo queues require a singleton_key")
            data = [job.get("data") for job in jobs]
            rows = self._insert(name, info, data, conn, data_only=True, returning=return_id)
            return [str(row["id"]) for row in rows] if return_id else None
        payloads = []
        seen: set[str] = set()
        for job in jobs:
            fields = dict(job)
            data = fields.pop("data", None)
            fields.pop("name", None)
            job_id = fields.get("id")
            if job_id is not None:
                if job_id in seen:
                    raise PgBossInputError(f"duplicate job id in insert batch: {job_id}")
                seen.add(job_id)
            payloads.append(opt.job_payload(data, fields))
        info = self._queue_info(name, conn)
        if info.policy == "key_strict_fifo" and any(not p.get("singletonKey") for p in payloads):
            raise PgBossInputError("key_strict_fifo queues require a singleton_key")
        if not payloads:
            return [] if return_id else None
        rows = self._insert(name, info, payloads, conn, returning=return_id)
        return [str(row["id"]) for row in rows] if return_id else None

    def insert_slotted(self, name: str, jobs: list[dict[str, Any]]) -> None:
        """Insert jobs that name their own throttle slot (ours: the cron pass files occurrences so)."""
        info = self._queue_info(name)
        self._insert(name, info, jobs, None)

    # ---------------------------------------------------------------- fetching

    def fetch(
        self,
        name: str,
        batch_size: int = 1,
        *,
        priority: bool = True,
        include_metadata: bool = False,
        min_priority: int | None = None,
        max_priority: int | None = None,
        conn: object | None = None,
    ) -> list[Job]:
        """Claim up to ``batch_size`` ready jobs (state -> active); [] when none or a policy blocks."""
        del priority  # pg-boss 12.38 always orders by priority, then creation (the option is deprecated)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise PgBossInputError("batch_size must be an integer > 0")
        if min_priority is not None and max_priority is not None and min_priority > max_priority:
            raise PgBossInputError("min_priority must be <= max_priority")
        info = self._queue_info(name, conn)
        query = _FETCH_QUERIES.get(info.policy, "fetch_standard")
        standard = query == "fetch_standard"
        if standard and batch_size == 1:
            query = "fetch_standard_single"
        sql = self.queries.sql(query, table=info.table, metadata=include_metadata)
        params = {
            "name": name,
            "limit": batch_size,
            "policy": info.policy,
            "min_priority": min_priority,
            "max_priority": max_priority,
        }
        # The standard fetches reuse a generic plan; priority bounds are index conditions only in a plan
        # made for their values, so those are planned per call.
        generic = standard and min_priority is None and max_priority is None
        try:
            rows = self.db.rows(sql, params, conn=conn, generic=generic)
        except pg_errors.UniqueViolation:
            # A policy index refused the claim (pg-boss swallows 23505 and returns no jobs).
            return []
        return _claimed_jobs(rows)

    # ---------------------------------------------------------------- settling

    def _command(
        self, query: str, name: str, ids: IdArg, call: str, conn: object | None, **params: Any
    ) -> CommandResult:
        opt.check_queue_name(name)
        id_list, attempts = _ids_and_attempts(ids, call)
        info = self._queue_info(name, conn)
        values = {"name": name, "ids": _array_param(id_list), "attempts": _array_param(attempts), **params}
        sql = self.queries.sql(query, table=info.table)
        row = self.db.one(sql, values, conn=conn, generic=query in _GENERIC_PLAN_QUERIES)
        affected = int(row["affected"]) if row else 0
        return CommandResult(jobs=tuple(id_list), requested=len(id_list), affected=affected)

    def complete(
        self,
        name: str,
        ids: IdArg,
        output: Any = None,
        *,
        include_queued: bool = False,
        conn: object | None = None,
    ) -> CommandResult:
        """Complete active jobs (queued ones too with ``include_queued``), storing ``output``."""
        return self._command(
            "complete_jobs", name, ids, "complete", conn,
            output=opt.output_json(output), include_queued=include_queued,
        )  # fmt: skip

    def settle_and_fetch(
        self,
        name: str,
        jobs: Sequence[Job],
        output: Any,
        *,
        failed: bool,
        batch_size: int,
        include_metadata: bool = False,
    ) -> tuple[CommandResult, list[Job]]:
        """Ours: ``complete`` (or ``fail``) ``jobs``, then ``fetch`` the next batch, in one round trip.

        What a bursting ``work()`` loop does after a full batch. On a ``standard`` queue both statements
        go down one connection in pipeline mode, with plan reuse (the worker's fetch has no priority
        bounds, and its generic plan is the per-call one: an ``i11`` scan and primary-key lookups, in
        fresh and stale statistics alike). They then share one implicit transaction, so should either
        fail, neither took effect, and the two run again one by one as ``complete()``/``fail()`` and
        ``fetch()`` would: the same outcome as the two calls, errors included.
        """
        info = self._queue_info(name)
        query = "fail_jobs" if failed else "complete_jobs"
        id_list, attempts = _ids_and_attempts(list(jobs), "fail" if failed else "complete")
        settle_params: dict[str, Any] = {
            "name": name,
            "ids": _array_param(id_list),
            "attempts": _array_param(attempts),
        }
        settle_params["output"] = opt.output_json(output)
        if not failed:
            settle_params["include_queued"] = False
        if info.policy == "standard":
            fetch_query = "fetch_standard_single" if batch_size == 1 else "fetch_standard"
            fetch_params = {
                "name": name,
                "limit": batch_size,
                "policy": info.policy,
                "min_priority": None,
                "max_priority": None,
            }
            try:
                settled, fetched = self.db.pipelined(
                    [
                        (self.queries.sql(query, table=info.table), settle_params),
                        (self.queries.sql(fetch_query, table=info.table, metadata=include_metadata),
                         fetch_params),
                    ],
                    generic=True,
                )  # fmt: skip
            except psycopg.Error as exc:
                logger.debug("settle+fetch on %s failed (%s); running them one by one", name, exc)
            else:
                affected = int(settled[0]["affected"]) if settled else 0
                result = CommandResult(jobs=tuple(id_list), requested=len(id_list), affected=affected)
                return result, _claimed_jobs(fetched)
        settle = self.fail if failed else self.complete
        result = settle(name, list(jobs), output)
        return result, self.fetch(name, batch_size, include_metadata=include_metadata)

    def fail(self, name: str, ids: IdArg, output: Any = None, *, conn: object | None = None) -> CommandResult:
        """Fail jobs: retry when attempts remain (with delay/backoff), else failed (+ dead letter)."""
        return self._command("fail_jobs", name, ids, "fail", conn, output=opt.output_json(output))

    def cancel(self, name: str, ids: IdArg, *, conn: object | None = None) -> CommandResult:
        """Cancel jobs that have not finished."""
        return self._command("cancel_jobs", name, self._plain(ids), "cancel", conn)

    def resume(self, name: str, ids: IdArg, *, conn: object | None = None) -> CommandResult:
        """Put cancelled jobs back in the queue."""
        return self._command("resume_jobs", name, self._plain(ids), "resume", conn)

    def retry(self, name: str, ids: IdArg, *, conn: object | None = None) -> CommandResult:
        """Retry failed jobs once more."""
        return self._command("retry_jobs", name, self._plain(ids), "retry", conn)

    def delete_job(self, name: str, ids: IdArg, *, conn: object | None = None) -> CommandResult:
        """Delete jobs in any state (frees their throttle slot)."""
        return self._command("delete_jobs", name, self._plain(ids), "delete_job", conn)

    def touch(self, name: str, ids: IdArg, *, conn: object | None = None) -> CommandResult:
        """Refresh the heartbeat of active jobs."""
        return self._command("touch_jobs", name, self._plain(ids), "touch", conn)

    @staticmethod
    def _plain(ids: IdArg) -> IdArg:
        if isinstance(ids, Job):
            return ids.id
        if isinstance(ids, str):
            return ids
        return [item.id if isinstance(item, Job) else item for item in ids]

    def redrive(self, dead_letter_queue: str, destination: str | None = None, *, limit: int = 1000) -> int:
        """Move queued jobs of a dead-letter queue back to their source (or ``destination``) as new jobs."""
        info = self._queue_info(dead_letter_queue)
        if destination is not None:
            self._queue_info(destination)
        row = self.db.one(
            self.queries.sql("redrive_jobs", table=info.table),
            {"name": dead_letter_queue, "destination": destination, "limit": limit},
        )
        return int(row["moved"]) if row else 0

    # ---------------------------------------------------------------- reading

    def get_job_by_id(self, name: str, id: str, *, conn: object | None = None) -> Job | None:
        """One job with all its columns, or None."""
        info = self._queue_info(name, conn)
        try:
            uuid.UUID(str(id))
        except ValueError:
            return None
        row = self.db.one(
            self.queries.sql("get_job_by_id", table=info.table, metadata=True),
            {"name": name, "id": id},
            conn=conn,
        )
        return Job.from_row(row) if row else None

    def find_jobs(
        self,
        name: str,
        *,
        id: str | None = None,
        key: str | None = None,
        data: Mapping[str, Any] | None = None,
        queued: bool = False,
    ) -> list[Job]:
        """Jobs matching an id, a singleton key, a data subset (``@>``) and/or queued state."""
        info = self._queue_info(name)
        params = {
            "name": name,
            "id": id,
            "key": key,
            "data": opt.dumps(dict(data)) if data is not None else None,
            "queued": queued,
        }
        rows = self.db.rows(self.queries.sql("find_jobs", table=info.table, metadata=True), params)
        return [Job.from_row(row) for row in rows]

    def failed_since(self, name: str, since: datetime) -> list[Job]:
        """Jobs of ``name`` that reached ``failed`` after ``since`` (ours, not pg-boss's), oldest first."""
        info = self._queue_info(name)
        rows = self.db.rows(
            self.queries.sql("failed_since", table=info.table, metadata=True), {"name": name, "since": since}
        )
        return [Job.from_row(row) for row in rows]

    def settled_since(self, name: str, since: datetime) -> list[Job]:
        """Jobs of ``name`` that completed or failed after ``since`` (ours, not pg-boss's), oldest first."""
        info = self._queue_info(name)
        rows = self.db.rows(
            self.queries.sql("settled_since", table=info.table, metadata=True), {"name": name, "since": since}
        )
        return [Job.from_row(row) for row in rows]

    # ---------------------------------------------------------------- workers

    def work(
        self,
        name: str,
        handler: Handler,
        *,
        batch_size: int = 1,
        polling_interval_seconds: float = 2.0,
        local_concurrency: int = 1,
        include_metadata: bool = False,
        priority: bool = True,
        notify_polling_interval_seconds: float | None = None,
        burst_when_batch_full: bool = False,
        on_settled: SettleHook | None = None,
    ) -> str:
        """Run ``handler(jobs)`` on ``local_concurrency`` poll loops; returns the work id.

        While the LISTEN connection is up a loop polls every ``notify_polling_interval_seconds``
        (default: the instance's, 30 s) as a backstop; ``burst_when_batch_full`` (batch > 1) skips
        the sleep after a full batch, as in pg-boss. ``on_settled(outcome, jobs, output, affected)``
        (ours, not pg-boss's) runs after the worker completed or failed a batch.
        """
        del priority
        if not callable(handler):
            raise PgBossInputError("expected callback to be a function")
        if not self._started or self._stopping:
            raise PgBossInputError("Workers are disabled. pg-boss is stopped")
        if not isinstance(local_concurrency, int) or local_concurrency < 1:
            raise PgBossInputError("local_concurrency must be an integer >= 1")
        options = WorkOptions.checked(
            batch_size=batch_size,
            polling_interval_seconds=polling_interval_seconds,
            notify_polling_interval_seconds=notify_polling_interval_seconds,
            default_backstop=float(self.config.notify_polling_interval_seconds),
            include_metadata=include_metadata,
            burst_when_batch_full=burst_when_batch_full,
        )
        self._queue_info(name)
        work_id = str(uuid.uuid4())
        workers = [
            Worker(self, name, handler, options, work_id=work_id, on_settled=on_settled)
            for _ in range(local_concurrency)
        ]
        with self._lock:
            self._workers[work_id] = workers
        for worker in workers:
            worker.start()
        return work_id

    def off_work(self, name: str | None = None, *, id: str | None = None, wait: bool = True) -> None:
        """Stop the workers of a queue (or of one work id); ``wait`` joins them."""
        with self._lock:
            keys = [
                k
                for k, group in self._workers.items()
                if (id is None or k == id) and (name is None or group[0].name == name)
            ]
            groups = [self._workers.pop(k) for k in keys]
        workers = [w for group in groups for w in group]
        for worker in workers:
            worker.request_stop()
        if wait:
            for worker in workers:
                worker.join(60)

    def workers(self) -> list[Worker]:
        with self._lock:
            return [w for group in self._workers.values() for w in group]

    def notify_worker(self, work_id: str) -> None:
        """Wake a work id's loops now (pg-boss ``notifyWorker``)."""
        for worker in self._workers.get(work_id, []):
            worker.notify()

    def _on_notify(self, queue_name: str) -> None:
        for worker in self.workers():
            if worker.name == queue_name:
                worker.notify()

    def _on_listener_reconnect(self) -> None:
        # Notifications sent while the listener was down are lost; every loop fetches once now.
        for worker in self.workers():
            worker.notify()

    def notifies(self, name: str) -> bool:
        """Whether sends to ``name`` wake its workers now (listener up and the queue notifies)."""
        try:
            return self.listening() and self._queue_info(name).notify
        except Exception:
            return False

    def listening(self) -> bool:
        """Whether the LISTEN connection is up (workers then poll only as a backstop)."""
        return self.use_listen_notify and self.notifier.connected

    # ---------------------------------------------------------------- schedules and events

    def schedule(
        self, name: str, cron: str, data: Any = None, *, tz: str = "UTC", key: str = "", **options: Any
    ) -> None:
        """Send ``data`` to ``name`` on a cron schedule in time zone ``tz`` (one per name and key)."""
        self.timekeeper.validate(cron, tz)
        opt.check_queue_name(name)
        if key:
            opt.check_queue_name(key)
        opt.job_payload(data, options)
        # pg-boss persists the options object it was given, tz and key included (a non-default one
        # is what a caller passes there); the send-it worker ignores what send() does not take.
        stored = {**({"tz": tz} if tz != "UTC" else {}), **({"key": key} if key else {}), **options}
        params = {
            "name": name,
            "key": key,
            "cron": cron,
            "tz": tz,
            "data": opt.dumps(data),
            "options": opt.dumps(opt.camel_options(stored), field="options"),
        }
        try:
            self.db.rows(self.queries.sql("schedule"), params)
        except pg_errors.ForeignKeyViolation as exc:
            raise PgBossInputError(f"Queue {name} not found") from exc

    def unschedule(self, name: str, key: str = "") -> None:
        """Remove a schedule."""
        self.db.rows(self.queries.sql("unschedule"), {"name": name, "key": key})

    def get_schedules(self, name: str | None = None) -> list[Schedule]:
        """Every schedule, or one queue's."""
        rows = self.db.rows(self.queries.sql("get_schedules"), {"name": name})
        return [Schedule.from_row(row) for row in rows]

    def subscribe(self, event: str, name: str) -> None:
        """Route ``publish(event)`` to queue ``name``."""
        opt.check_queue_name(name)
        if not event:
            raise PgBossInputError("Missing required argument")
        try:
            self.db.rows(self.queries.sql("subscribe"), {"event": event, "name": name})
        except pg_errors.ForeignKeyViolation as exc:
            raise QueueNotFound(name) from exc

    def unsubscribe(self, event: str, name: str) -> None:
        """Stop routing ``event`` to ``name``."""
        self.db.rows(self.queries.sql("unsubscribe"), {"event": event, "name": name})

    def publish(self, event: str, data: Any = None, **options: Any) -> list[str | None]:
        """Send ``data`` to every queue subscribed to ``event``; the ids (None where refused)."""
        if not event:
            raise PgBossInputError("Missing required argument")
        rows = self.db.rows(self.queries.sql("get_queues_for_event"), {"event": event})
        return [self.send(row["name"], data, **options) for row in rows]

    # ---------------------------------------------------------------- flows and supervision

    def flow(self, jobs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Insert jobs ``{ref, name, data, options, depends_on}``; children wait for all their parents."""
        refs = {str(job["ref"]) for job in jobs}
        if len(refs) != len(jobs):
            raise PgBossInputError("flow() requires a unique ref per job")
        ids = {str(job["ref"]): str(uuid.uuid4()) for job in jobs}
        parents = {ref for job in jobs for ref in job.get("depends_on", ())}
        missing = parents - refs
        if missing:
            raise PgBossInputError(f"flow() depends_on names unknown ref(s): {', '.join(sorted(missing))}")
        with self.db.connection() as conn, conn.transaction():
            for job in jobs:
                self._insert_flow_job(conn, job, ids, parents)
            deps = [
                {
                    "child_name": job["name"],
                    "child_id": ids[str(job["ref"])],
                    "parent_name": self._ref_name(jobs, p),
                    "parent_id": ids[p],
                }
                for job in jobs
                for p in job.get("depends_on", ())
            ]
            if deps:
                conn.execute(self.queries.sql("insert_dependencies"), {"deps": opt.dumps(deps)})
        return ids

    @staticmethod
    def _ref_name(jobs: Sequence[Mapping[str, Any]], ref: str) -> str:
        return next(str(j["name"]) for j in jobs if str(j["ref"]) == ref)

    def _insert_flow_job(
        self, conn: psycopg.Connection[Any], job: Mapping[str, Any], ids: dict[str, str], parents: set[str]
    ) -> None:
        name = opt.check_queue_name(job["name"])
        ref = str(job["ref"])
        payload = opt.job_payload(job.get("data"), dict(job.get("options", {})))
        depends = list(job.get("depends_on", ()))
        payload.update(
            id=ids[ref], blocked=bool(depends), blocking=ref in parents, pendingDependencies=len(depends)
        )
        rows = self._insert(name, self._queue_info(name, conn), [payload], conn)
        if not rows:
            raise PgBossInputError(
                "one or more jobs could not be created. Check queue policies and singleton keys"
            )

    def supervise(self, name: str | None = None) -> None:
        """Run monitoring (expiry, heartbeat, counts) and maintenance (retention) now."""
        self.supervisor.run_once(names=[name] if name else None, force=True)

    def resolve_flow(self) -> int:
        """Unblock children whose parents all completed; how many were released."""
        return self.supervisor.resolve_flow()

    # ---------------------------------------------------------------- context manager

    def __enter__(self) -> PgBoss:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
