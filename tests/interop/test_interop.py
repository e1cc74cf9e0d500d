"""Interop with the real pg-boss 12: one schema, two implementations, both directions.

A schema installed by the real pg-boss is accepted by our port (and the reverse) without a migration;
jobs sent by one are fetched, completed, failed and retried by the other; schedules and subscriptions
created by one are honoured by the other. Each test runs one Node process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from differential import run_node_ops, run_sql
from sqlalchemy import Engine

from bakeoff.backends.pgboss import PgBoss, UnsupportedSchemaVersion
from bakeoff.backends.pgboss.adapter import PgBossBackend
from bakeoff.contract import ImportRequest, JobState
from bakeoff.db.engine import connect_raw
from bakeoff.testing import wait_for
from bakeoff.testing.pgboss_node import PgBossRuntime

pytestmark = pytest.mark.interop

RECORDED = json.loads((Path(__file__).parent / "fixtures/pgboss-version.json").read_text())
SHARED = "shared"


@pytest.fixture
def port(database_url: str) -> Iterator[PgBoss]:
    """Our port on the ``shared`` schema, without background supervision or cron."""
    boss = PgBoss(database_url, schema=SHARED, supervise=False, schedule=False)
    yield boss
    boss.stop(graceful=False, timeout=5)


def catalog(database_url: str, schema: str) -> list[tuple[str, str]]:
    """The schema's shape; function bodies with whitespace collapsed, as pg-boss's drift check does."""
    rows = run_sql(database_url, "catalog_snapshot", schema)
    return [(kind, " ".join(item.split()) if kind == "function" else item) for kind, item in rows]


def install_with_node(runtime: PgBossRuntime, database_url: str, schema: str = SHARED) -> None:
    run_node_ops(runtime, database_url, schema, [])


def test_port_installs_exactly_the_schema_pgboss_installs(
    pgboss_runtime: PgBossRuntime, database_url: str
) -> None:
    """Columns, indexes, constraints, functions and enum order are identical, schema name aside."""
    install_with_node(pgboss_runtime, database_url, "theirs")
    PgBoss(database_url, schema="ours", supervise=False, schedule=False).start().stop(timeout=5)
    theirs, ours = catalog(database_url, "theirs"), catalog(database_url, "ours")
    assert theirs, "the catalog query found nothing"
    assert sorted(set(ours) - set(theirs)) == []
    assert sorted(set(theirs) - set(ours)) == []
    versions = run_sql(database_url, "schema_version", "ours")
    assert versions == [(RECORDED["schema_version"],)]


def test_port_accepts_a_schema_installed_by_pgboss_without_migrating_it(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """Starting our port on pg-boss's schema changes nothing in it."""
    install_with_node(pgboss_runtime, database_url)
    before = catalog(database_url, SHARED)
    port.start()
    assert catalog(database_url, SHARED) == before


def test_pgboss_accepts_a_schema_installed_by_the_port_without_migrating_it(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """The real pg-boss starts on our schema, finds no drift with its own check, and changes nothing."""
    port.start()
    before = catalog(database_url, SHARED)
    result = run_node_ops(pgboss_runtime, database_url, SHARED, [{"op": "detect_drift"}])
    assert result.results[0]["ok"] is True, result.results[0]
    assert catalog(database_url, SHARED) == before
    assert run_sql(database_url, "schema_version", SHARED) == [(RECORDED["schema_version"],)]


def test_port_refuses_another_schema_version_naming_it(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """A schema at another pg-boss version is refused with an error that names the version found."""
    install_with_node(pgboss_runtime, database_url)
    run_sql(database_url, "set_schema_version", SHARED, version=RECORDED["schema_version"] - 1)
    with pytest.raises(UnsupportedSchemaVersion, match=str(RECORDED["schema_version"] - 1)):
        port.start()


def test_jobs_sent_by_the_port_are_worked_by_a_real_pgboss_worker(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """pg-boss in Node fetches, completes, fails, retries and work()s jobs our port sent."""
    port.start()
    port.create_queue("q", retry_limit=1)
    ids = {
        ref: port.send("q", {"ref": ref}, priority=priority)
        for ref, priority in [("a", 3), ("b", 2), ("c", 1)]
    }
    ops: list[dict[str, Any]] = [
        {"op": "bind", "refs": ids},
        {"op": "fetch", "name": "q", "as": []},
        {"op": "complete", "name": "q", "refs": ["a"], "output": {"done": "node"}},
        {"op": "fetch", "name": "q", "as": []},
        {"op": "fail", "name": "q", "refs": ["b"], "output": {"try": 1}},
        {"op": "fetch", "name": "q", "as": []},
        {"op": "fail", "name": "q", "refs": ["b"], "output": {"try": 2}},
        {"op": "retry", "name": "q", "refs": ["b"]},
        {"op": "work", "name": "q", "count": 2, "output": {"worked": True}},
    ]
    result = run_node_ops(pgboss_runtime, database_url, SHARED, ops)
    assert result.results[1] == ["a"]
    assert result.results[3] == ["b"]
    assert result.results[5] == ["b"]
    assert sorted(result.results[8]) == ["b", "c"]
    jobs = {ref: port.get_job_by_id("q", job_id) for ref, job_id in ids.items() if job_id}
    assert {ref: (job.state, job.retry_count, job.retry_limit) for ref, job in jobs.items() if job} == {
        "a": ("completed", 0, 1),
        "b": ("completed", 2, 2),
        "c": ("completed", 0, 1),
    }
    assert jobs["a"] is not None and jobs["a"].output == {"done": "node"}
    assert jobs["c"] is not None and jobs["c"].output == {"worked": True}


def test_jobs_sent_by_pgboss_are_worked_by_the_port(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """Our port fetches, completes, fails, retries and work()s jobs the real pg-boss sent."""
    sends = [
        {"op": "send", "name": "q", "ref": ref, "data": {"ref": ref}, "options": {"priority": priority}}
        for ref, priority in [("a", 3), ("b", 2), ("c", 1)]
    ]
    sent = run_node_ops(
        pgboss_runtime,
        database_url,
        SHARED,
        [{"op": "create_queue", "name": "q", "options": {"retry_limit": 1}}, *sends],
    )
    port.start()
    ids = sent.refs
    assert [job.id for job in port.fetch("q")] == [ids["a"]]
    assert port.complete("q", ids["a"], {"done": "python"}).affected == 1
    assert [job.id for job in port.fetch("q")] == [ids["b"]]
    port.fail("q", ids["b"], {"try": 1})
    assert [job.id for job in port.fetch("q")] == [ids["b"]]
    port.fail("q", ids["b"], {"try": 2})
    assert port.retry("q", ids["b"]).affected == 1
    handled: list[str] = []
    work_id = port.work(
        "q",
        lambda jobs: handled.extend(job.id for job in jobs) or {"worked": True},
        polling_interval_seconds=0.5,
    )
    try:
        wait_for(
            lambda: len(handled) >= 2 and _all_completed(port, [ids["b"], ids["c"]]),
            "b and c completed",
            timeout=10,
        )
    finally:
        port.off_work("q", id=work_id)
    seen = run_node_ops(
        pgboss_runtime,
        database_url,
        SHARED,
        [{"op": "bind", "refs": ids}, *({"op": "find", "name": "q", "ref": ref} for ref in "abc")],
    )
    assert [(row["state"], row["retry_count"], row["retry_limit"]) for row in seen.results[1:]] == [
        ("completed", 0, 1),
        ("completed", 2, 2),
        ("completed", 0, 1),
    ]
    assert seen.results[1]["output"] == {"done": "python"}
    assert seen.results[3]["output"] == {"worked": True}


def test_schedule_made_by_the_port_is_fired_by_pgboss(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """A cron schedule our port stores is fired into its queue by the real pg-boss's timekeeper."""
    port.start()
    port.create_queue("cron-q")
    port.schedule("cron-q", "* * * * *", {"from": "python"}, tz="Europe/Paris", key="k1", retry_limit=4)
    options = {"schedule": True, "cron_monitor_interval_seconds": 1, "cron_worker_interval_seconds": 1}
    result = run_node_ops(
        pgboss_runtime,
        database_url,
        SHARED,
        [{"op": "get_schedules", "name": "cron-q"}, {"op": "wait_for_jobs", "name": "cron-q", "count": 1}],
        boss_options=options,
    )
    assert result.results[0] == [
        {
            "name": "cron-q",
            "key": "k1",
            "cron": "* * * * *",
            "timezone": "Europe/Paris",
            "data": {"from": "python"},
        }
    ]
    assert [job["data"] for job in result.results[1]] == [{"from": "python"}]
    fired = port.find_jobs("cron-q")
    assert [(job.data, job.retry_limit) for job in fired] == [({"from": "python"}, 4)]


def test_schedule_made_by_pgboss_is_fired_by_the_port(
    pgboss_runtime: PgBossRuntime, database_url: str
) -> None:
    """A cron schedule the real pg-boss stores is fired into its queue by our port's timekeeper."""
    run_node_ops(
        pgboss_runtime,
        database_url,
        SHARED,
        [
            {"op": "create_queue", "name": "cron-q"},
            {
                "op": "schedule",
                "name": "cron-q",
                "cron": "* * * * *",
                "data": {"from": "node"},
                "options": {"tz": "UTC", "retry_limit": 4},
            },
        ],
    )
    boss = PgBoss(
        database_url,
        schema=SHARED,
        supervise=False,
        schedule=True,
        cron_monitor_interval_seconds=1,
        cron_worker_interval_seconds=1,
    )
    boss.start()
    try:
        wait_for(lambda: len(boss.find_jobs("cron-q")) >= 1, "the cron job", timeout=12)
        fired = boss.find_jobs("cron-q")
        assert [(job.data, job.retry_limit) for job in fired] == [({"from": "node"}, 4)]
    finally:
        boss.stop(graceful=False, timeout=5)


def test_subscriptions_are_honoured_across_implementations(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """pg-boss publishes to our port's subscription, and our port publishes to pg-boss's."""
    port.start()
    port.create_queue("from-python")
    port.subscribe("evt-py", "from-python")
    result = run_node_ops(
        pgboss_runtime,
        database_url,
        SHARED,
        [
            {"op": "create_queue", "name": "from-node"},
            {"op": "subscribe", "event": "evt-node", "name": "from-node"},
            {"op": "publish", "event": "evt-py", "data": {"by": "node"}},
        ],
    )
    assert result.results[-1] is None
    port.publish("evt-node", {"by": "python"})
    assert [job.data for job in port.find_jobs("from-python")] == [{"by": "node"}]
    assert [job.data for job in port.find_jobs("from-node")] == [{"by": "python"}]


def _all_completed(port: PgBoss, ids: list[str]) -> bool:
    jobs = [port.get_job_by_id("q", job_id) for job_id in ids]
    return all(job is not None and job.state == "completed" for job in jobs)


def test_router_arm_jobs_are_worked_by_node_workers(
    pgboss_runtime: PgBossRuntime, database_url: str, engine: Engine
) -> None:
    """The recipe: the pgboss arm enqueues in the caller's transaction; a Node pg-boss worker completes it."""
    backend = PgBossBackend(engine)
    try:
        with engine.begin() as conn:
            job_id = backend.submit(
                ImportRequest(url="http://127.0.0.1:9/a"), trial_job_id=uuid4(), conn=conn
            )
        assert backend.state(job_id) is JobState.QUEUED
        result = run_node_ops(
            pgboss_runtime,
            database_url,
            "pgboss",
            [
                {"op": "bind", "refs": {"job": job_id}},
                {"op": "work", "name": backend.queue, "output": {"document_id": "d1"}},
            ],
            boss_options={"use_listen_notify": True},
        )
        assert result.results[1] == ["job"]
        assert backend.state(job_id) is JobState.COMPLETED
    finally:
        backend.boss.stop(graceful=False, timeout=5)


def test_both_notify_on_pgboss_channel_with_the_queue_name(
    pgboss_runtime: PgBossRuntime, database_url: str, port: PgBoss
) -> None:
    """A send to a notify queue NOTIFYs pg-boss's channel with the queue's name, from either side."""
    port.start()
    port.create_queue("n", notify=True)
    ((channel,),) = run_sql(database_url, "notify_channel", SHARED)
    with connect_raw(database_url) as listener:
        # LISTEN takes no parameters; the channel is "pgboss_" and hex digits computed by the server.
        listener.execute(f'LISTEN "{channel}"')
        port.send("n", {"by": "python"})
        run_node_ops(
            pgboss_runtime,
            database_url,
            SHARED,
            [{"op": "send", "name": "n", "data": {"by": "node"}}],
            boss_options={"use_listen_notify": True},
        )
        payloads = [note.payload for note in listener.notifies(timeout=10, stop_after=2)]
    assert payloads == ["n", "n"]
