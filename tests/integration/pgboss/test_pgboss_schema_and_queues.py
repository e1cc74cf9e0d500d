"""The schema pg-boss 12 installs, attaching to it, version refusal, and queue management rules."""

from __future__ import annotations

import pytest

from bakeoff.backends.pgboss import SCHEMA_VERSION, PgBoss, QueueNotFound, UnsupportedSchemaVersion
from bakeoff.backends.pgboss.errors import PgBossInputError

from .conftest import Probe


def test_migration_installs_pg_boss_schema_at_its_version(shared_database: str) -> None:
    """`bakeoff db upgrade` left pg-boss's schema: version 46, enum in pg-boss's order, policy indexes."""
    probe = Probe(shared_database, "pgboss")
    assert probe.rows("get_version") == [{"version": SCHEMA_VERSION}]
    labels = [row["label"] for row in probe.rows("enum_labels", schema="pgboss")]
    assert labels == ["created", "retry", "active", "completed", "cancelled", "failed"]
    indexes = {row["indexname"] for row in probe.rows("index_names", schema="pgboss")}
    probe.conn.close()
    assert {f"job_common_i{n}" for n in (1, 2, 3, 4, 6, 8, 11)} <= indexes


def test_start_installs_a_new_schema_and_attaches_to_an_existing_one(
    shared_database: str, fresh_schema: str
) -> None:
    """A second instance on the same schema installs nothing and sees the first one's queues."""
    first = PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False).start()
    try:
        first.create_queue("shared")
        second = PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False).start()
        try:
            assert second.get_queue("shared") is not None
        finally:
            second.stop(timeout=1)
    finally:
        first.stop(timeout=1)
    probe = Probe(shared_database, fresh_schema)
    assert probe.rows("get_version") == [{"version": SCHEMA_VERSION}]
    probe.rows("set_version", version=45)
    with pytest.raises(UnsupportedSchemaVersion, match="version 45"):
        PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False).start()
    probe.conn.close()


def test_schema_names_over_fifty_bytes_are_refused(shared_database: str) -> None:
    """pg-boss's limit on schema names."""
    with pytest.raises(ValueError, match="cannot exceed 50 bytes"):
        PgBoss(shared_database, schema="s" * 51)


def test_create_queue_is_idempotent_and_stores_its_settings(boss: PgBoss, queue: str) -> None:
    """createQueue twice keeps the first settings; get_queue returns them, get_queues lists it."""
    boss.create_queue(queue, retry_limit=5, retry_delay=3, expire_in_seconds=60, retention_seconds=100)
    boss.create_queue(queue, retry_limit=9)
    found = boss.get_queue(queue)
    assert found is not None
    settings = (found.retry_limit, found.retry_delay, found.expire_in_seconds, found.retention_seconds)
    assert settings == (5, 3, 60, 100)
    assert found.policy == "standard"
    assert found.notify is True
    assert queue in [q.name for q in boss.get_queues()]


def test_update_queue_changes_settings_but_never_the_policy(boss: PgBoss, queue: str) -> None:
    """Settings change; a policy change or an empty update is refused with pg-boss's message."""
    boss.create_queue(queue, policy="short")
    boss.update_queue(queue, retry_limit=7, heartbeat_seconds=30)
    found = boss.get_queue(queue)
    assert found is not None
    assert (found.retry_limit, found.heartbeat_seconds) == (7, 30)
    with pytest.raises(ValueError, match="queue policy cannot be changed after creation"):
        boss.update_queue(queue, policy="singleton")
    with pytest.raises(ValueError, match="no properties found to update"):
        boss.update_queue(queue)


def test_delete_queue_removes_it_and_its_jobs(boss: PgBoss, probe: Probe, queue: str) -> None:
    """deleteQueue drops the queue and every job in it; sending to it afterwards is refused."""
    boss.create_queue(queue)
    job_id = boss.send(queue, {"a": 1})
    boss.delete_queue(queue)
    assert boss.get_queue(queue) is None
    assert probe.rows("job_row", id=job_id) == []
    with pytest.raises(QueueNotFound, match=f"Queue {queue} does not exist"):
        boss.send(queue)


def test_a_dead_letter_queue_in_use_cannot_be_deleted(boss: PgBoss, queue: str) -> None:
    """Deleting a queue another queue dead-letters into is refused with a ValueError naming it."""
    dlq = f"{queue}-dlq"
    boss.create_queue(dlq)
    boss.create_queue(queue, dead_letter=dlq)
    with pytest.raises(ValueError, match=f"queue {dlq} cannot be deleted"):
        boss.delete_queue(dlq)
    assert boss.get_queue(dlq) is not None


def test_partitioned_queues_get_their_own_table(boss: PgBoss, queue: str) -> None:
    """partition=True creates j<sha224(name)>; jobs there behave like any other."""
    boss.create_queue(queue, partition=True)
    found = boss.get_queue(queue)
    assert found is not None
    assert found.table_name.startswith("j") and len(found.table_name) == 57
    job_id = boss.send(queue, {"n": 1})
    assert [job.id for job in boss.fetch(queue)] == [job_id]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.create_queue("bad name"), "Name can only contain"),
        (lambda b: b.create_queue("q", policy="fifo"), "fifo is not a valid queue policy"),
        (lambda b: b.create_queue("q", heartbeat_seconds=9), "heartbeat_seconds must be an integer >= 10"),
        (lambda b: b.create_queue("q", dead_letter="missing"), "Queue missing does not exist"),
        (lambda b: b.send("never-created"), "Queue never-created does not exist"),
        (lambda b: b.fetch("never-created"), "Queue never-created does not exist"),
    ],
)
def test_bad_queue_calls_raise_value_errors(boss: PgBoss, call: object, message: str) -> None:
    """Bad input raises ValueError (PgBossInputError or QueueNotFound) with pg-boss's message."""
    with pytest.raises(ValueError, match=message) as caught:
        call(boss)  # type: ignore[operator]
    assert isinstance(caught.value, PgBossInputError | QueueNotFound)
