"""pg-boss's supervisor (``boss.ts``): expiry, heartbeat timeouts, cached counts, retention, flows.

Each pass claims the queues whose interval has elapsed with an ``UPDATE ... RETURNING`` on the queue
row, so many instances share the work without doing it twice; the sweeps themselves run under
pg-boss's per-table advisory locks. Expired and heartbeat-lost jobs fail through the same retry
path as ``fail()``, with pg-boss's outputs (``job timed out`` / ``job heartbeat timeout``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from bakeoff.backends.pgboss.background import BackgroundThread

if TYPE_CHECKING:
    from bakeoff.backends.pgboss.db import Database
    from bakeoff.backends.pgboss.models import PgBossConfig
    from bakeoff.backends.pgboss.store import PgBossQueries

__all__ = ["Supervisor"]

logger = logging.getLogger(__name__)

EXPIRY_BATCH_SIZE = 1000
TIMED_OUT_OUTPUT = '{"value": {"message": "job timed out"}}'
HEARTBEAT_OUTPUT = '{"value": {"message": "job heartbeat timeout"}}'


class Supervisor:
    """Background monitoring and maintenance for one pg-boss instance's database, queries and config."""

    def __init__(self, db: Database, queries: PgBossQueries, config: PgBossConfig) -> None:
        self.db = db
        self.queries = queries
        self.config = config
        self._background = BackgroundThread("pgboss-supervisor", self._run, join_seconds=10)

    def start(self) -> None:
        self._background.start()

    def stop(self) -> None:
        self._background.stop()

    def _run(self) -> None:
        supervise_every = float(self.config.supervise_interval_seconds)
        flow_every = float(self.config.flow_interval_seconds)
        next_supervise = next_flow = time.monotonic()
        while not self._background.stopping.wait(max(0.0, min(next_supervise, next_flow) - time.monotonic())):
            now = time.monotonic()
            if now >= next_supervise:
                self._contained(self.run_once)
                next_supervise = time.monotonic() + supervise_every
            if now >= next_flow:
                self._contained(self.resolve_flow)
                next_flow = time.monotonic() + flow_every

    @staticmethod
    def _contained(fn: Any) -> None:
        try:
            fn()
        except Exception:
            logger.exception("pg-boss supervision pass failed")

    def run_once(self, *, names: list[str] | None = None, force: bool = False) -> None:
        """One monitor + maintenance pass over ``names`` (all queues by default)."""
        rows = self.db.rows(self.queries.sql("get_queues"), {"names": list(names) if names else None})
        if not rows:
            return
        all_names = [str(row["name"]) for row in rows]
        monitor_after = 0 if force else float(self.config.monitor_interval_seconds)
        maintain_after = 0 if force else float(self.config.maintenance_interval_seconds)
        for table, claimed in self._claim("claim_queue_monitor", all_names, monitor_after).items():
            self._monitor(table, claimed)
        for table, claimed in self._claim("claim_queue_maintenance", all_names, maintain_after).items():
            self._maintain(table, claimed)

    def _claim(self, query: str, names: list[str], seconds: float) -> dict[str, list[str]]:
        rows = self.db.rows(self.queries.sql(query), {"queues": names, "seconds": seconds})
        by_table: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_table[row["table_name"]].append(row["name"])
        return by_table

    def _monitor(self, table: str, names: list[str]) -> None:
        self.expire(table, names, "timed_out_predicate", TIMED_OUT_OUTPUT, "failJobsByTimeout")
        self.expire(table, names, "heartbeat_lost_predicate", HEARTBEAT_OUTPUT, "failJobsByHeartbeat")
        for name in names:
            counts = self.db.one(self.queries.sql("queue_counts", table=table), {"name": name})
            if counts:
                self.db.rows(self.queries.sql("cache_queue_counts"), {"name": name, **counts})

    def expire(self, table: str, names: list[str], predicate: str, output: str, lock_key: str) -> int:
        """Fail jobs matching ``predicate`` in batches; how many were failed."""
        sql = self.queries.expire_sql(predicate, table=table)
        total = 0
        for _ in range(1000):  # bounded: each batch removes what it picked from the predicate
            params = {"queues": names, "limit": EXPIRY_BATCH_SIZE, "output": output}
            (rows,) = self.db.locked([(sql, params)], lock=self.queries.advisory_lock(table + lock_key))
            picked = int(rows[0]["picked"]) if rows else 0
            total += picked
            if picked < EXPIRY_BATCH_SIZE:
                break
        if total:
            logger.info("failed %d job(s) on %s (%s)", total, ",".join(names), predicate)
        return total

    def _maintain(self, table: str, names: list[str]) -> None:
        sql = self.queries.sql("delete_expired_jobs", table=table)
        lock = self.queries.advisory_lock(table + "deletion")
        (rows,) = self.db.locked([(sql, {"queues": names})], lock=lock)
        deleted = int(rows[0]["deleted"]) if rows else 0
        if deleted:
            logger.info("retention deleted %d job(s) on %s", deleted, ",".join(names))

    def resolve_flow(self) -> int:
        """Unblock children whose parents have all completed."""
        row = self.db.one(self.queries.sql("resolve_flow"))
        return int(row["unblocked"]) if row else 0
