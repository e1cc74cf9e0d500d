"""Plan reuse on the job statements: send, a fetch without priority bounds, complete, fail and touch run
with generic plans on the generic pool's session, and every other statement runs under the server's
default choice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakeoff.backends.pgboss import PgBoss

from .conftest import SQL, Probe


@pytest.fixture
def one_connection_boss(shared_database: str, fresh_schema: str) -> Iterator[PgBoss]:
    """An instance whose two pools hold one connection each: one session per plan mode."""
    instance = PgBoss(
        shared_database, schema=fresh_schema, supervise=False, schedule=False, max_connections=1
    ).start()
    yield instance
    instance.stop(timeout=1)


def _plans(boss: PgBoss, marker: str, *, generic: bool = True) -> tuple[int, int]:
    """(generic, custom) plan counts of the one prepared statement whose text holds ``marker``, in the
    session of the generic pool or of the default one (prepared statements belong to a session)."""
    rows = [r for r in boss.db.rows(SQL["prepared_plans"], generic=generic) if marker in r["statement"]]
    assert len(rows) == 1, [r["statement"][:80] for r in rows]
    return rows[0]["generic_plans"], rows[0]["custom_plans"]


def test_worker_statements_reuse_generic_plans_and_the_rest_keeps_the_default(
    one_connection_boss: PgBoss, queue: str, probe: Probe
) -> None:
    boss = one_connection_boss
    probe.schema = boss.schema
    default_mode = boss.db.rows(SQL["plan_cache_mode"])[0]["mode"]
    boss.create_queue(queue)
    ids = [boss.send(queue, {"i": i}) for i in range(4)]
    for _ in range(3):
        (job,) = boss.fetch(queue)
        assert boss.touch(queue, job).affected == 1
        assert boss.complete(queue, job, {"ok": True}).affected == 1
    (last,) = boss.fetch(queue)
    assert boss.fail(queue, last, "boom").affected == 1
    assert [probe.job(i)["state"] for i in ids] == ["completed"] * 3 + ["retry"]

    # The ANY (ARRAY(...)) shape is the single fetch's; each worker statement never planned per call.
    assert _plans(boss, "ANY (ARRAY(SELECT id FROM next))") == (4, 0)
    assert _plans(boss, "state = 'completed',") == (3, 0)
    assert _plans(boss, "SET heartbeat_on") == (3, 0)
    assert _plans(boss, "deleted_jobs AS") == (1, 0)
    assert _plans(boss, "pg_notify") == (4, 0)  # send: a JSON recordset, so no value-dependent plan

    # Ordinary statements run in the other pool's session, under the server's own choice.
    assert boss.db.rows(SQL["plan_cache_mode"])[0]["mode"] == default_mode != "force_generic_plan"
    assert boss.db.rows(SQL["plan_cache_mode"], generic=True)[0]["mode"] == "force_generic_plan"
    boss.send(queue, {"i": 9})
    batch = boss.fetch(queue, 2)  # the batch statement reuses its plan too: the retry, then the new job
    assert [(j.data["i"], j.retry_count) for j in batch] == [(3, 1), (9, 0)]
    assert _plans(boss, "AS claim_position") == (1, 0)
    assert boss.complete(queue, batch).affected == 2

    # A priority-bounded batch fetch is planned for its bounds, in the default session.
    boss.send(queue, {"i": 10}, priority=5)
    (bounded,) = boss.fetch(queue, 2, min_priority=5)
    assert bounded.data == {"i": 10}
    assert _plans(boss, "AS claim_position", generic=False) == (0, 1)


def test_single_fetch_with_priority_bounds_and_metadata(boss: PgBoss, queue: str) -> None:
    """Batch size 1 honours min/max priority (planned per call) and include_metadata."""
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}, "priority": i} for i in range(5)])
    (job,) = boss.fetch(queue, min_priority=1, max_priority=2)
    assert (job.data, job.priority) == ({"i": 2}, None)
    (full,) = boss.fetch(queue, max_priority=1, include_metadata=True)
    assert (full.data, full.priority, full.state, full.policy) == ({"i": 1}, 1, "active", "standard")
    assert boss.fetch(queue, min_priority=5) == []
    assert [j.data["i"] for j in boss.fetch(queue)] == [4]
