"""Worker threads: claim items with SKIP LOCKED, wake on LISTEN/NOTIFY, keep leases alive, fire crons.

Each worker thread owns one psycopg connection and works one item at a time. A listener thread
holds a LISTEN connection: notifications wake idle workers at once; between them it extends the
leases of items in progress (so a long step is not taken over) and fires due cron triggers. A
worker killed mid-step simply stops heartbeating: its lease runs out and another worker replays the
run from its memo, re-running only the step that was in flight.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from bakeoff.backends.inngest.cron import next_fire
from bakeoff.backends.inngest.executor import Executor, Item
from bakeoff.backends.inngest.store import Conn
from bakeoff.backends.inngest.triggers import FinishedRun
from bakeoff.contract import DatabaseUnavailable
from bakeoff.db.engine import connect_raw

if TYPE_CHECKING:
    from bakeoff.backends.inngest.client import Inngest

__all__ = ["Worker"]

logger = logging.getLogger(__name__)

MAX_CLAIM_TRIES = 8
RELEASE_DELAY_MS = 1000


class _Wakeup:
    """A generation counter with a condition: no wake-up is lost between a claim and a wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0

    def ring(self) -> None:
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        with self._cond:
            if self.generation == seen:
                self._cond.wait(timeout)


class Worker:
    """Background threads running the client's functions. ``stop()`` finishes in-flight items first."""

    def __init__(self, client: Inngest, *, concurrency: int, poll_interval: float, lease_ms: int) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.client = client
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease_ms = lease_ms
        self.worker_id = f"worker-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = _Wakeup()
        self._in_flight: dict[int, int] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Worker:
        self._register_crons()
        listener = threading.Thread(target=self._listen, name=f"{self.worker_id}-listen", daemon=True)
        self._threads.append(listener)
        for n in range(self.concurrency):
            name = f"{self.worker_id}-{n}"
            self._threads.append(threading.Thread(target=self._work, args=(name,), name=name, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let in-flight items finish (up to ``timeout``), then return."""
        self._stop.set()
        self._wake.ring()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # -- worker threads ---------------------------------------------------------------------------

    def _connect(self) -> Conn:
        conn = connect_raw(self.client.database_url, autocommit=True)
        if not self.client.synchronous_commit:
            conn.execute("SET synchronous_commit = off")
        return conn

    def _work(self, name: str) -> None:
        executor = self.client.make_executor(f"{self.worker_id}/{name}", self.lease_ms, self._finished)
        conn: Conn | None = None
        while not self._stop.is_set():
            try:
                conn = conn if conn is not None and not conn.closed else self._connect()
                self._step(conn, executor)
            except (psycopg.OperationalError, DatabaseUnavailable):  # server down or restarting
                logger.exception("worker %s lost its connection; reconnecting", name)
                conn = None
                self._stop.wait(self.poll_interval)
            except Exception:
                logger.exception("worker %s failed an item; it will be retried", name)
                self._stop.wait(0.05)
        if conn is not None:
            conn.close()

    def _step(self, conn: Conn, executor: Executor) -> None:
        seen = self._wake.generation
        row = self._claim(conn)
        if row is None:
            self._wake.wait(seen, self._idle_seconds(conn))
            return
        item = Item.from_row(row)
        with self._lock:
            self._in_flight[item.id] = threading.get_ident()
        try:
            executor.process(conn, item)
        except Exception:
            self._release(conn, item)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(item.id, None)

    def _claim(self, conn: Conn) -> dict[str, Any] | None:
        sql, exclude = self.client.sql, [0]
        fn_ids = list(self.client.functions)
        for _ in range(MAX_CLAIM_TRIES):
            row = sql.one(
                conn,
                "claim_item",
                app_id=self.client.app_id,
                lease_ms=self.lease_ms,
                owner=self.worker_id,
                fn_ids=fn_ids,
                exclude=exclude,
            )
            if row is None or not row["ckeys"] or self._has_room(conn, row):
                return row
            exclude.append(row["id"])
        return None

    def _has_room(self, conn: Conn, row: dict[str, Any]) -> bool:
        """Re-count the item's keys under their locks; give the claim back when one is full.

        Checks are serialised per key and a give-back commits before its locks are released, so
        two workers can never both keep the last slot (at worst both give back and retry).
        """
        sql = self.client.sql
        with conn.transaction():
            sql.run(conn, "lock_concurrency_keys", keys=row["ckeys"])
            full = sql.run(
                conn, "full_concurrency_keys", keys=row["ckeys"], limits=row["climits"], id=row["id"]
            )
            if full:
                sql.run(conn, "release_claim", id=row["id"], owner=self.worker_id)
        return not full

    def _idle_seconds(self, conn: Conn) -> float:
        due = self.client.sql.scalar(
            conn, "seconds_until_due", app_id=self.client.app_id, fn_ids=list(self.client.functions)
        )
        if due is None:
            return self.poll_interval
        return min(self.poll_interval, max(0.005, float(due)))

    def _release(self, conn: Conn, item: Item) -> None:
        """After an unexpected error, hand the item back (next attempt, after a pause): no lease wait."""
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            self.client.sql.run(
                conn, "rearm_item", id=item.id, kind=item.kind, target_step=item.target_step,
                attempt=item.attempt + 1, delay_ms=RELEASE_DELAY_MS, keep=False, lease_ms=0,
            )  # fmt: skip
        except psycopg.Error:
            logger.warning("could not release item %s; its lease will expire", item.id)

    def _finished(self, runs: list[FinishedRun]) -> None:
        self.client.notify_finished(runs)

    # -- listener: wake-ups, heartbeats, crons ----------------------------------------------------

    def _listen(self) -> None:
        conn: Conn | None = None
        last_beat = 0.0
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self._connect()
                    conn.execute(f'LISTEN "{self.client.sql.channel}"')
                for _ in conn.notifies(timeout=min(0.25, self.poll_interval), stop_after=1):
                    self._wake.ring()
                if time.monotonic() - last_beat > self.lease_ms / 3000:
                    self._heartbeat(conn)
                    self._fire_crons(conn)
                    last_beat = time.monotonic()
            except (psycopg.Error, DatabaseUnavailable):  # server down or restarting: keep retrying
                logger.exception("listener lost its connection; reconnecting")
                conn = None
                self._stop.wait(self.poll_interval)
        if conn is not None:
            conn.close()

    def _heartbeat(self, conn: Conn) -> None:
        with self._lock:
            ids = list(self._in_flight)
        if ids:
            self.client.sql.run(conn, "extend_leases", ids=ids, owner=self.worker_id, lease_ms=self.lease_ms)

    def _register_crons(self) -> None:
        now = datetime.now(UTC)
        with self._connect() as conn:
            for fn in self.client.functions.values():
                for cron in fn.crons():
                    self.client.sql.run(
                        conn,
                        "register_cron",
                        app_id=self.client.app_id,
                        fn_id=fn.fn_id,
                        cron=cron,
                        next_at=next_fire(cron, now),
                    )

    def _fire_crons(self, conn: Conn) -> None:
        functions = self.client.functions
        if not any(fn.crons() for fn in functions.values()):
            return
        sql = self.client.sql
        with conn.transaction():
            for due in sql.run(conn, "due_crons", app_id=self.client.app_id, fn_ids=list(functions)):
                event = self.client.dispatcher.invoked_event({"cron": due["cron"]})
                event["name"] = "inngest/scheduled.timer"
                self.client.dispatcher.create_run(conn, functions[due["fn_id"]], event)
                upcoming = next_fire(due["cron"], max(due["next_at"], datetime.now(UTC)))
                sql.run(
                    conn, "set_cron_next", app_id=self.client.app_id, fn_id=due["fn_id"], cron=due["cron"],
                    next_at=upcoming,
                )  # fmt: skip
                sql.notify(conn)
