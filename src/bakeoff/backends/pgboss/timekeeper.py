"""pg-boss's timekeeper: cron schedules evaluated in their time zones, sent at most once a minute.

Every ``cron_monitor_interval_seconds`` one instance wins the claim on ``version.cron_on`` and, for
each schedule whose last occurrence fell in the past 60 s (database clock), inserts a job into the
internal ``__pgboss__send-it`` queue filed under the occurrence's minute slot and the key
``<name>__<key>`` (underscores in the name escaped) — so however many instances evaluate the same
minute, the slot index admits one. A worker on that queue forwards each to its real queue. The
payload shape is pg-boss's, so Node and Python instances share schedules.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bakeoff.backends.pgboss import options as opt
from bakeoff.backends.pgboss.background import BackgroundThread
from bakeoff.backends.pgboss.errors import PgBossInputError
from bakeoff.backends.pgboss.models import Job, Schedule

if TYPE_CHECKING:
    from bakeoff.backends.pgboss.db import Database
    from bakeoff.backends.pgboss.models import PgBossConfig
    from bakeoff.backends.pgboss.store import PgBossQueries
    from bakeoff.backends.pgboss.worker import Handler

__all__ = [
    "SEND_IT_QUEUE",
    "ScheduleCommands",
    "Timekeeper",
    "due_occurrence",
    "occurrence_key",
    "slot_text",
]

logger = logging.getLogger(__name__)

SEND_IT_QUEUE = "__pgboss__send-it"
OCCURRENCE_WINDOW_SECONDS = 60
SEND_IT_BATCH_SIZE = 50


def occurrence_key(name: str, key: str) -> str:
    """pg-boss's singleton key for a forwarded occurrence."""
    return f"{name.replace('_', chr(92) + '_')}__{key}"


def slot_text(instant: datetime) -> str:
    """The UTC minute slot of ``instant`` as pg-boss writes ``singleton_on``."""
    epoch = int(instant.timestamp() // OCCURRENCE_WINDOW_SECONDS) * OCCURRENCE_WINDOW_SECONDS
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def due_occurrence(cron: str, tz: str, now: datetime) -> datetime | None:
    """The schedule's occurrence within the 60 s before ``now`` (inclusive), if any."""
    local_now = now.astimezone(ZoneInfo(tz)) + timedelta(milliseconds=1)
    previous = croniter(cron, local_now).get_prev(datetime)
    return previous if previous > now - timedelta(seconds=OCCURRENCE_WINDOW_SECONDS) else None


class ScheduleCommands(Protocol):
    """The pg-boss calls the timekeeper makes, all public on :class:`~bakeoff.backends.pgboss.PgBoss`."""

    def create_queue(self, name: str, **options: Any) -> None: ...

    def work(
        self, name: str, handler: Handler, *, batch_size: int = 1, polling_interval_seconds: float = 2.0
    ) -> str: ...

    def send(self, name: str, data: Any = None, **options: Any) -> str | None: ...

    def get_schedules(self, name: str | None = None) -> list[Schedule]: ...

    def insert_slotted(self, name: str, jobs: list[dict[str, Any]]) -> None: ...


class Timekeeper:
    """Background cron pass plus the ``__pgboss__send-it`` forwarding worker."""

    def __init__(
        self, boss: ScheduleCommands, db: Database, queries: PgBossQueries, config: PgBossConfig
    ) -> None:
        self.boss = boss
        self.db = db
        self.queries = queries
        self.config = config
        self._background = BackgroundThread("pgboss-timekeeper", self._run, join_seconds=10)

    @staticmethod
    def validate(cron: str, tz: str) -> None:
        if not isinstance(cron, str) or not cron.strip() or not croniter.is_valid(cron):
            raise PgBossInputError(f"cron: invalid cron expression {cron!r}")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PgBossInputError(f"tz: unknown time zone {tz!r}") from exc

    def start(self) -> None:
        boss = self.boss
        boss.create_queue(SEND_IT_QUEUE, notify=False)
        boss.work(
            SEND_IT_QUEUE,
            self.forward,
            batch_size=SEND_IT_BATCH_SIZE,
            polling_interval_seconds=max(0.5, float(self.config.cron_worker_interval_seconds)),
        )
        self._background.start()

    def stop(self) -> None:
        self._background.stop()

    def _run(self) -> None:
        every = float(self.config.cron_monitor_interval_seconds)
        while not self._background.stopping.is_set():
            try:
                self.cron_pass()
            except Exception:
                logger.exception("pg-boss cron pass failed")
            self._background.stopping.wait(every)

    def cron_pass(self, *, force: bool = False) -> int:
        """Claim the pass and file due occurrences; how many were filed (0: another instance ran it)."""
        seconds = 0 if force else float(self.config.cron_monitor_interval_seconds)
        row = self.db.one(self.queries.sql("try_set_cron_time"), {"seconds": seconds})
        if row is None:
            return 0
        now = datetime.fromtimestamp(int(row["now_ms"]) / 1000, UTC)
        filed = [job for schedule in self.boss.get_schedules() if (job := self._filing(schedule, now))]
        if filed:
            self.boss.insert_slotted(SEND_IT_QUEUE, filed)
        return len(filed)

    @staticmethod
    def _filing(schedule: Any, now: datetime) -> dict[str, Any] | None:
        try:
            occurrence = due_occurrence(schedule.cron, schedule.timezone, now)
        except Exception as exc:
            logger.warning("schedule %s/%s could not be evaluated: %s", schedule.name, schedule.key, exc)
            return None
        if occurrence is None:
            return None
        slot = slot_text(occurrence)
        data = {
            "name": schedule.name,
            "key": schedule.key,
            "data": schedule.data,
            "options": schedule.options or {},
            "slot": slot,
        }
        return {
            "data": data,
            "singletonKey": occurrence_key(schedule.name, schedule.key),
            "singletonSlot": slot,
        }

    def forward(self, jobs: list[Job]) -> None:
        """The send-it handler: send each occurrence to its queue, then note the job on its schedule."""
        fired: dict[tuple[str, str], dict[str, Any]] = {}
        for job in jobs:
            request = job.data or {}
            # The stored options also hold tz, key (and db from older Node releases): send() takes
            # only job options, and pg-boss's send ignores the rest.
            stored = opt.snake_options(request.get("options") or {})
            options = {k: v for k, v in stored.items() if k in opt.JOB_OPTION_NAMES}
            try:
                job_id = self.boss.send(request["name"], request.get("data"), **options)
            except Exception:
                logger.exception("scheduled send to %s failed", request.get("name"))
                continue
            if job_id is not None and "key" in request:
                fired[(request["name"], request["key"])] = {
                    "name": request["name"],
                    "key": request["key"],
                    "jobId": job_id,
                }
        if fired:
            self.db.rows(
                self.queries.sql("set_schedule_last_job_ids"), {"fired": opt.dumps(list(fired.values()))}
            )
