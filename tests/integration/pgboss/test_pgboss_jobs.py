"""Jobs: sending, fetching, retries and backoff, settling, reading, and enqueue in a caller's transaction.

Ports the behaviour pg-boss's own tests check (retryTest, backoffTest, priorityTest, fetchTest,
completeTest, cancelTest, resumeTest, deleteTest, insertTest, touchTest, delayTest).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import Engine, text

from bakeoff.backends.pgboss import Job, PgBoss
from bakeoff.db.engine import make_engine
from bakeoff.db.urls import libpq_url

from .conftest import Probe


def test_fetch_takes_highest_priority_first_then_oldest(boss: PgBoss, queue: str) -> None:
    """Priority descending (negative allowed), then creation order."""
    boss.create_queue(queue)
    low = boss.send(queue, {"n": "low"}, priority=-5)
    first = boss.send(queue, {"n": "first"})
    second = boss.send(queue, {"n": "second"})
    high = boss.send(queue, {"n": "high"}, priority=10)
    order = [boss.fetch(queue)[0].id for _ in range(4)]
    assert order == [high, first, second, low]
    assert boss.fetch(queue) == []


def test_batch_fetch_and_priority_bounds(boss: PgBoss, queue: str) -> None:
    """batch_size returns up to that many jobs; min/max priority filter what is claimed."""
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}, "priority": i} for i in range(5)])
    assert sorted(j.data["i"] for j in boss.fetch(queue, 2, min_priority=1, max_priority=3)) == [2, 3]
    assert len(boss.fetch(queue, 10)) == 3
    with pytest.raises(ValueError, match="batch_size must be an integer > 0"):
        boss.fetch(queue, 0)


def test_a_batch_comes_back_in_claim_order(boss: PgBoss, queue: str) -> None:
    """The batch UPDATE returns rows in tuple order; the client puts them back in claim order."""
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}, "priority": i % 3} for i in range(9)])
    late = boss.send(queue, {"i": 9}, priority=2)  # newest, but it outranks the priority 0 and 1 jobs
    batch = boss.fetch(queue, 10)
    assert [job.data["i"] for job in batch] == [2, 5, 8, 9, 1, 4, 7, 0, 3, 6]
    assert batch[3].id == late


def test_concurrent_batch_fetches_claim_every_job_once(boss: PgBoss, queue: str, probe: Probe) -> None:
    """Four loops racing for batches of 7 (SKIP LOCKED, rows found by tuple id) share 600 jobs exactly."""
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}} for i in range(600)])
    claimed: list[list[int]] = [[] for _ in range(4)]

    def drain(mine: list[int]) -> None:
        while batch := boss.fetch(queue, 7):
            mine.extend(job.data["i"] for job in batch)
            boss.complete(queue, batch)

    loops = [threading.Thread(target=drain, args=(mine,)) for mine in claimed]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join(timeout=60)
    everything = [i for mine in claimed for i in mine]
    assert sorted(everything) == list(range(600))
    assert boss.get_queue_stats(queue).total_count == 600
    assert {probe.job(job.id)["state"] for job in boss.find_jobs(queue)} == {"completed"}


def test_fetch_skips_rows_locked_by_another_transaction(
    boss: PgBoss, queue: str, shared_database: str
) -> None:
    """FOR UPDATE SKIP LOCKED: a job claimed in an open transaction is invisible to other fetchers."""
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}} for i in range(2)])
    with psycopg.connect(libpq_url(shared_database)) as other:
        held = boss.fetch(queue, conn=other)  # claimed, not yet committed
        assert [j.data["i"] for j in held] == [0]
        assert [j.data["i"] for j in boss.fetch(queue)] == [1]
        assert boss.fetch(queue) == []
        other.rollback()
    assert [j.data["i"] for j in boss.fetch(queue)] == [0]


def test_failed_jobs_retry_until_retry_limit_then_fail(boss: PgBoss, queue: str, probe: Probe) -> None:
    """retry_count increments at re-fetch; total attempts = retry_limit + 1; then state failed."""
    boss.create_queue(queue, retry_limit=2)
    job_id = boss.send(queue)
    counts = []
    for _ in range(3):
        (job,) = boss.fetch(queue)
        counts.append(job.retry_count)
        assert boss.fail(queue, job, {"why": "x"}).affected == 1
    assert counts == [0, 1, 2]
    row = probe.job(job_id)
    assert (row["state"], row["retry_count"], row["output"]) == ("failed", 2, {"why": "x"})
    assert boss.fetch(queue) == []


def test_retry_limit_zero_fails_at_first_failure(boss: PgBoss, queue: str, probe: Probe) -> None:
    """A job with retry_limit 0 has one attempt."""
    boss.create_queue(queue)
    job_id = boss.send(queue, retry_limit=0)
    boss.fail(queue, boss.fetch(queue))
    assert probe.job(job_id)["state"] == "failed"


def test_fixed_retry_delay_defers_the_retry(boss: PgBoss, queue: str, probe: Probe) -> None:
    """retry_delay without backoff: start_after = now + retry_delay, and the job is not fetchable yet."""
    boss.create_queue(queue, retry_limit=1, retry_delay=30)
    job_id = boss.send(queue)
    boss.fail(queue, boss.fetch(queue))
    row = probe.job(job_id)
    assert row["state"] == "retry"
    assert 28 < row["start_after_in"] <= 30
    assert boss.fetch(queue) == []


def test_exponential_backoff_grows_with_jitter_and_respects_the_cap(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """Backoff: the n-th retry waits in [d*2^(n-1), d*2^n); retry_delay_max caps it."""
    boss.create_queue(queue, retry_limit=5, retry_delay=10, retry_backoff=True)
    job_id = boss.send(queue)
    waits = []
    for _ in range(3):
        jobs = boss.fetch(queue)
        if not jobs:
            probe.age(job_id, 10_000)  # make the deferred retry due without waiting for it
            jobs = boss.fetch(queue)
        boss.fail(queue, jobs)
        waits.append(probe.job(job_id)["start_after_in"])
    for n, wait in enumerate(waits, start=1):
        assert 10 * 2 ** (n - 1) - 1 <= wait < 10 * 2**n, (n, wait)
    capped = boss.send(queue, retry_limit=3, retry_delay=10, retry_backoff=True, retry_delay_max=12)
    for _ in range(2):
        probe.age(capped, 10_000)
        boss.fail(queue, [j for j in boss.fetch(queue, 5) if j.id == capped] or capped)
    assert probe.job(capped)["start_after_in"] <= 12


def test_fail_stores_a_serialised_error_and_complete_wraps_plain_values(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """Error outputs carry name, message and stack; non-object outputs become {value: x}."""
    boss.create_queue(queue, retry_limit=0)
    failed, done = boss.send(queue), boss.send(queue)
    jobs = {j.id: j for j in boss.fetch(queue, 2)}
    try:
        raise RuntimeError("disk full")
    except RuntimeError as exc:
        boss.fail(queue, jobs[failed], exc)
    boss.complete(queue, jobs[done], 42)
    error = probe.job(failed)["output"]
    assert (error["name"], error["message"]) == ("RuntimeError", "disk full")
    assert "Traceback" in error["stack"]
    assert probe.job(done)["output"] == {"value": 42}


def test_settle_commands_report_requested_and_affected(boss: PgBoss, queue: str, probe: Probe) -> None:
    """complete/cancel/resume/retry/delete/touch return .requested and .affected and act per state."""
    boss.create_queue(queue, retry_limit=0)
    a, b, c = (boss.send(queue, {"i": i}) for i in range(3))
    assert a and b and c
    assert boss.complete(queue, [a, b]).affected == 0  # nothing active yet
    cancelled = boss.cancel(queue, [a, b])
    assert (cancelled.requested, cancelled.affected) == (2, 2)
    assert boss.resume(queue, a).affected == 1
    assert probe.job(a)["state"] == "created"
    assert boss.complete(queue, c, include_queued=True).affected == 1
    (job,) = boss.fetch(queue)
    assert job.id == a
    assert boss.touch(queue, a).affected == 1
    boss.fail(queue, a)
    assert probe.job(a)["state"] == "failed"
    assert boss.retry(queue, a).affected == 1
    row = probe.job(a)
    assert (row["state"], row["retry_limit"]) == ("retry", 1)
    deleted = boss.delete_job(queue, [a, b, c])
    assert (deleted.requested, deleted.affected) == (3, 3)
    with pytest.raises(ValueError, match="requires an id"):
        boss.complete(queue, [])


def test_ids_that_are_not_bare_uuids_reach_the_server_as_one_item_each(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """Settling sends well-formed ids as one array literal; anything else (a comma, a brace, NULL)
    goes item by item, so two ids glued by a comma are one bad id, never two jobs."""
    boss.create_queue(queue)
    a, b = (boss.send(queue, {"i": i}) for i in range(2))
    assert a and b
    for glued in (f"{a},{b}", "NULL", ""):
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            boss.complete(queue, glued, include_queued=True)
    assert [probe.job(i)["state"] for i in (a, b)] == ["created", "created"]
    # PostgreSQL reads a uuid in braces or in capitals as that uuid, item by item as before.
    assert boss.complete(queue, [f"{{{a}}}", b.upper()], include_queued=True).affected == 2


def test_a_stale_worker_cannot_settle_a_newer_attempt(boss: PgBoss, queue: str, probe: Probe) -> None:
    """Settling with the Job object fences the attempt it was fetched at (pg-boss's attempt fence)."""
    boss.create_queue(queue, retry_limit=2)
    job_id = boss.send(queue)
    (stale,) = boss.fetch(queue)
    boss.fail(queue, job_id)  # e.g. expiry failed it behind the worker's back
    (fresh,) = boss.fetch(queue)
    assert boss.complete(queue, stale).affected == 0
    assert boss.complete(queue, fresh).affected == 1
    assert probe.job(job_id)["state"] == "completed"


def test_send_options_start_after_and_queue_defaults(boss: PgBoss, queue: str, probe: Probe) -> None:
    """Per-job options override the queue's; start_after takes seconds, ISO strings and datetimes."""
    boss.create_queue(queue, retry_limit=4, expire_in_seconds=120)
    later = boss.send_after(queue, {"x": 1}, 60)
    at = boss.send(queue, start_after=datetime.now(UTC) + timedelta(minutes=5))
    iso = boss.send(queue, start_after=(datetime.now(UTC) + timedelta(minutes=10)).isoformat())
    own = boss.send(
        queue,
        retry_limit=1,
        expire_in_seconds=5,
        singleton_key="k",
        id="9f0c5a36-3bde-4c06-9a26-6f3f4e1d2a10",
    )
    assert 58 < probe.job(later)["start_after_in"] <= 60
    assert 290 < probe.job(at)["start_after_in"] <= 300
    assert 590 < probe.job(iso)["start_after_in"] <= 600
    assert own == "9f0c5a36-3bde-4c06-9a26-6f3f4e1d2a10"
    row = probe.job(own)
    assert (row["retry_limit"], row["expire_seconds"], row["singleton_key"]) == (1, 5, "k")
    assert (probe.job(later)["retry_limit"], probe.job(later)["expire_seconds"]) == (4, 120)
    assert [j.id for j in boss.fetch(queue, 10)] == [own]


def test_insert_many_returns_ids_and_refuses_duplicate_ids(boss: PgBoss, queue: str) -> None:
    """insert() writes a batch in one statement; ids only on request; duplicates in a batch refused."""
    boss.create_queue(queue)
    assert boss.insert(queue, [{"data": {"i": 1}}, {"data": {"i": 2}}]) is None
    ids = boss.insert(queue, [{"data": {"i": 3}, "priority": 2}], return_id=True)
    assert ids is not None and len(ids) == 1
    with pytest.raises(ValueError, match="duplicate job id in insert batch"):
        boss.insert(queue, [{"id": ids[0]}, {"id": ids[0]}])
    assert boss.get_queue_stats(queue).queued_count == 3


@pytest.mark.parametrize("notify", [True, False])
def test_insert_of_data_only_jobs_makes_the_rows_the_general_statement_makes(
    boss: PgBoss, queue: str, probe: Probe, notify: bool
) -> None:
    """Jobs with nothing but data take insert_data_body; their rows equal the recordset insert's.

    The second queue gets the same jobs with an explicit default priority, which sends them through
    the general json_to_recordset statement; every column but the job's name, id and clocks must match,
    the queue's own settings included (the jobs name none, so each falls back to the queue's).
    """
    settings = dict(
        retry_limit=4, retry_delay=3, retry_backoff=True, retry_delay_max=60, expire_in_seconds=120,
        retention_seconds=3600, delete_after_seconds=60, heartbeat_seconds=30, notify=notify,
    )  # fmt: skip
    boss.create_queue(f"{queue}-dlq")
    fast, general = f"{queue}-fast", f"{queue}-general"
    for name in (fast, general):
        boss.create_queue(name, dead_letter=f"{queue}-dlq", **settings)
    jobs = [{"data": {"i": 1}}, {"data": None}, {}, {"data": "text"}, {"data": [1, 2.5]}, {"data": 7}]
    jobs.append({"name": "ignored", "data": {"nested": {"x": True}}})
    assert boss.insert(fast, jobs) is None
    assert boss.insert(general, [{**job, "priority": 0} for job in jobs]) is None
    fast_rows = probe.rows("inserted_rows", name=fast)
    general_rows = probe.rows("inserted_rows", name=general)
    assert len(fast_rows) == len(jobs)
    assert fast_rows == general_rows
    assert [row["data"] for row in fast_rows].count(None) == 2
    assert all(row["starts_when_created"] and row["kept_for"] == timedelta(hours=1) for row in fast_rows)
    row = fast_rows[-1]
    retry = (row["retry_limit"], row["retry_delay"], row["retry_backoff"], row["retry_delay_max"])
    assert retry == (4, 3, True, 60)
    assert (row["expire_seconds"], row["deletion_seconds"], row["heartbeat_seconds"]) == (120, 60, 30)
    assert (row["dead_letter"], row["policy"], row["state"]) == (f"{queue}-dlq", "standard", "created")
    ids = boss.insert(fast, [{"data": {"i": 2}}, {}], return_id=True)
    assert ids is not None and len(ids) == 2
    found = [boss.get_job_by_id(fast, job_id) for job_id in ids]
    assert sorted(repr(job.data) for job in found if job is not None) == ["None", "{'i': 2}"]
    assert boss.insert(fast, [], return_id=True) == []


def test_insert_of_data_only_jobs_skips_conflicts_when_the_cached_policy_is_stale(
    boss: PgBoss, queue: str, probe: Probe, shared_database: str
) -> None:
    """A standard queue's data-only insert runs without ON CONFLICT; a policy changed under the cache
    makes it meet a unique index, and the skipping form then gives pg-boss's result (short: one queued).
    In a caller's transaction the skipping form runs from the start, so the transaction survives."""
    boss.create_queue(queue)
    assert boss.insert(queue, [{"data": 0}]) is None  # caches the queue as standard
    boss.delete_job(queue, [str(j["id"]) for j in probe.jobs(queue)])
    probe.rows("set_queue_policy", name=queue, policy="short")
    assert boss.insert(queue, [{"data": 1}, {"data": 2}, {"data": 3}]) is None
    assert [j["data"] for j in probe.jobs(queue)] == [1]
    with psycopg.connect(libpq_url(shared_database)) as conn:
        assert boss.insert(queue, [{"data": 4}], return_id=True, conn=conn) == []
        conn.execute("SELECT 1")  # the transaction is still usable
    assert [j["data"] for j in probe.jobs(queue)] == [1]


def test_insert_of_data_only_jobs_checks_queue_data_and_policy(boss: PgBoss, queue: str) -> None:
    """The data-only path keeps insert()'s refusals: unknown queue, unserialisable data, key_strict_fifo."""
    with pytest.raises(ValueError, match="does not exist"):
        boss.insert(f"{queue}-missing", [{"data": 1}])
    boss.create_queue(queue)
    with pytest.raises(ValueError, match="data must be JSON-serialisable"):
        boss.insert(queue, [{"data": {1, 2}}])
    boss.create_queue(f"{queue}-fifo", policy="key_strict_fifo")
    with pytest.raises(ValueError, match="key_strict_fifo queues require a singleton_key"):
        boss.insert(f"{queue}-fifo", [{"data": 1}])
    assert boss.get_queue_stats(queue).total_count == 0


def test_get_job_by_id_find_jobs_and_queue_stats(boss: PgBoss, queue: str) -> None:
    """Reads return full metadata; find_jobs filters by key, data subset and queued state."""
    boss.create_queue(queue)
    a = boss.send(queue, {"kind": "a", "n": 1}, singleton_key="ka")
    boss.send(queue, {"kind": "b"}, start_after=3600)
    job = boss.get_job_by_id(queue, a or "")
    assert isinstance(job, Job)
    assert (job.state, job.singleton_key, job.data) == ("created", "ka", {"kind": "a", "n": 1})
    assert boss.get_job_by_id(queue, "not-a-uuid") is None
    assert [j.id for j in boss.find_jobs(queue, key="ka")] == [a]
    assert [j.data["kind"] for j in boss.find_jobs(queue, data={"kind": "b"})] == ["b"]
    boss.fetch(queue)
    assert len(boss.find_jobs(queue, queued=True)) == 1
    stats = boss.get_queue_stats(queue)
    counts = (stats.deferred_count, stats.queued_count, stats.ready_count, stats.active_count)
    assert (*counts, stats.total_count) == (1, 1, 0, 1, 2)


def test_send_inside_a_callers_transaction_commits_and_rolls_back_with_it(
    boss: PgBoss, queue: str, shared_database: str
) -> None:
    """send(conn=) with a SQLAlchemy Connection: the job exists only if the caller commits."""
    boss.create_queue(queue)
    engine: Engine = make_engine(shared_database, pool_size=1)
    try:
        with engine.connect() as conn:
            with conn.begin() as tx:
                rolled_back = boss.send(queue, {"r": 1}, conn=conn)
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
                tx.rollback()
            with conn.begin():
                kept = boss.send(queue, {"r": 2}, conn=conn)
    finally:
        engine.dispose()
    assert boss.get_job_by_id(queue, rolled_back or "") is None
    assert [j.id for j in boss.fetch(queue, 5)] == [kept]
