"""The pgboss arm: a Python port of pg-boss 12 (npm ``pg-boss`` 12.38.0, schema version 46).

It speaks pg-boss's own database layout, so a real pg-boss in Node and this port share queues::

    from bakeoff.backends.pgboss import PgBoss, Job

    boss = PgBoss(database_url).start()
    boss.create_queue("email")
    boss.send("email", {"to": "a@example.com"})
    boss.work("email", lambda jobs: None)

See ``docs/pgboss.md`` for the API and every deliberate difference from pg-boss.
"""

from __future__ import annotations

from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.backends.pgboss.errors import PgBossInputError, QueueNotFound, UnsupportedSchemaVersion
from bakeoff.backends.pgboss.models import (
    PGBOSS_VERSION,
    POLICIES,
    SCHEMA_VERSION,
    STATES,
    CommandResult,
    Job,
    PgBossConfig,
    Queue,
    QueueStats,
    Schedule,
)

__all__ = [
    "PGBOSS_VERSION",
    "POLICIES",
    "SCHEMA_VERSION",
    "STATES",
    "CommandResult",
    "Job",
    "PgBoss",
    "PgBossConfig",
    "PgBossInputError",
    "Queue",
    "QueueNotFound",
    "QueueStats",
    "Schedule",
    "UnsupportedSchemaVersion",
]
