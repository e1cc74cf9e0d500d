"""Workers and background work: the handler contract, timeouts, stop(), LISTEN/NOTIFY wake-ups and
reconnects, expiry and heartbeat supervision, retention, cron, publish/subscribe and flows
(pg-boss's workTest, expireTest, heartbeatTest, failureTest, notifyTest, scheduleTest, pubsubTest,
deleteTest, flowTest). Waits are bounded; nothing asserts on elapsed time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bakeoff.backends.pgboss import Job, PgBoss
from bakeoff.backends.pgboss.timekeeper import SEND_IT_QUEUE
from bakeoff.backends.pgboss.worker import Worker
from bakeoff.db.engine import make_engine
from bakeoff.testing import wait_for

from .conftest import Probe

WAIT_SECONDS = 10.0


@pytest.fixture
def own_boss(shared_database: str, fresh_schema: str) -> Iterator[PgBoss]:
    """An instance of this test's own (for tests that stop it or change its timers)."""
    instance = PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False).start()
    yield instance
    instance.stop(timeout=1)


def test_work_completes_jobs_with_the_handler_result(boss: PgBoss, queue: str, probe: Probe) -> None:
    """The handler gets a list of jobs; its return value completes them (non-dicts wrapped in {value})."""
    boss.create_queue(queue)
    seen: list[list[Job]] = []

    def handler(jobs: list[Job]) -> int:
        seen.append(jobs)
        return jobs[0].data["n"] * 2

    job_id = boss.send(queue, {"n": 21})
    boss.work(queue, handler, polling_interval_seconds=0.5)
    try:
        wait_for(lambda: probe.job(job_id)["state"] == "completed", "the job completed", timeout=WAIT_SECONDS)
    finally:
        boss.off_work(queue)
    assert probe.job(job_id)["output"] == {"value": 42}
    assert isinstance(seen[0], list) and seen[0][0].id == job_id


def test_a_throwing_handler_fails_the_batch_with_the_serialised_error(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """An exception fails every job of the batch with {name, message, stack}."""
    boss.create_queue(queue, retry_limit=0)
    ids = boss.insert(queue, [{"data": {"i": i}} for i in range(2)], return_id=True) or []

    def handler(jobs: list[Job]) -> None:
        raise LookupError(f"{len(jobs)} jobs broke")

    boss.work(queue, handler, batch_size=2, polling_interval_seconds=0.5)
    try:
        wait_for(
            lambda: all(probe.job(i)["state"] == "failed" for i in ids),
            "every job failed",
            timeout=WAIT_SECONDS,
        )
    finally:
        boss.off_work(queue)
    output = probe.job(ids[0])["output"]
    assert (output["name"], output["message"]) == ("LookupError", "2 jobs broke")
    assert "stack" in output


def test_a_handler_outliving_expire_in_seconds_is_failed(boss: PgBoss, queue: str, probe: Probe) -> None:
    """The handler is raced against expire_in_seconds: "handler execution exceeded 1s", through retry."""
    boss.create_queue(queue, expire_in_seconds=1, retry_limit=1, retry_delay=60)
    release = threading.Event()
    job_id = boss.send(queue)
    boss.work(queue, lambda jobs: release.wait(WAIT_SECONDS), polling_interval_seconds=0.5)
    try:
        wait_for(lambda: probe.job(job_id)["state"] == "retry", "the job in retry", timeout=WAIT_SECONDS)
    finally:
        release.set()
        boss.off_work(queue)
    assert probe.job(job_id)["output"]["message"] == "handler execution exceeded 1s"


def test_stop_fails_in_flight_jobs_so_they_retry(
    own_boss: PgBoss, queue: str, shared_database: str, fresh_schema: str
) -> None:
    """stop(): after the grace period, jobs still held fail with "pg-boss shut down while active"."""
    own_boss.create_queue(queue, retry_limit=1)
    started, release = threading.Event(), threading.Event()

    def handler(jobs: list[Job]) -> None:
        started.set()
        release.wait(WAIT_SECONDS)

    job_id = own_boss.send(queue)
    own_boss.work(queue, handler, polling_interval_seconds=0.5)
    assert started.wait(WAIT_SECONDS)
    own_boss.stop(graceful=True, timeout=0.2)
    release.set()
    probe = Probe(shared_database, fresh_schema)
    try:
        row = probe.job(job_id)
        assert (row["state"], row["output"]) == ("retry", {"value": "pg-boss shut down while active"})
    finally:
        probe.conn.close()
    with pytest.raises(ValueError, match="Workers are disabled"):
        own_boss.work(queue, handler)


@contextmanager
def picking_worker(
    boss: PgBoss, queue: str, *, polling_interval_seconds: float = 20, notify: bool = True
) -> Iterator[tuple[threading.Event, str]]:
    """A new queue with one worker whose handler sets ``picked``: (picked, work id); stopped after."""
    boss.create_queue(queue, notify=notify)
    picked = threading.Event()
    work_id = boss.work(queue, lambda jobs: picked.set(), polling_interval_seconds=polling_interval_seconds)
    try:
        yield picked, work_id
    finally:
        boss.off_work(queue)


def _idle_after_fetching(boss: PgBoss, work_id: str) -> Worker:
    """The one loop of ``work_id`` once it has made a fetch and sleeps until its next poll."""
    [worker] = [w for w in boss.workers() if w.id == work_id]
    wait_for(lambda: worker.fetches >= 1 and worker.idle, "the worker idle after its first fetch")
    return worker


def test_notify_wakes_an_idle_worker_long_before_its_next_poll(boss: PgBoss, queue: str) -> None:
    """With LISTEN/NOTIFY the send's commit wakes the idle worker: its second fetch finds the job,
    though its next poll would be 20 s away."""
    with picking_worker(boss, queue) as (picked, work_id):
        wait_for(boss.listening, "the listener up", timeout=WAIT_SECONDS)
        worker = _idle_after_fetching(boss, work_id)
        fetches = worker.fetches
        boss.send(queue)
        assert picked.wait(5), "not woken by the notification"
        assert worker.fetches == fetches + 1, "the job was found by the fetch the notification woke"


def test_the_listener_reconnects_after_losing_its_connection(boss: PgBoss, queue: str, probe: Probe) -> None:
    """Kill the LISTEN backend: the notifier reconnects and wakes workers again."""
    with picking_worker(boss, queue) as (picked, work_id):
        before = boss.notifier.reconnects
        probe.rows("terminate", pid=boss.notifier.backend_pid)
        wait_for(
            lambda: boss.notifier.reconnects > before and boss.listening(),
            "the listener back",
            timeout=WAIT_SECONDS,
        )
        _idle_after_fetching(boss, work_id)
        boss.send(queue)
        assert picked.wait(5)


def test_queues_without_notify_are_found_by_polling(boss: PgBoss, queue: str) -> None:
    """notify=False (pg-boss's own default): no NOTIFY is sent and the poll finds the job."""
    with picking_worker(boss, queue, polling_interval_seconds=0.5, notify=False) as (picked, _):
        boss.send(queue)
        assert picked.wait(WAIT_SECONDS)


def test_supervise_fails_expired_and_heartbeat_lost_jobs_through_retry(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """The monitor fails active jobs past expiry ("job timed out") or heartbeat ("job heartbeat timeout")."""
    boss.create_queue(queue, expire_in_seconds=5, retry_limit=1)
    expired = boss.send(queue)
    silent = boss.send(queue, heartbeat_seconds=10, expire_in_seconds=3600)
    fresh = boss.send(queue)
    boss.fetch(queue, 3)
    probe.age(expired, 6)
    probe.age(silent, 11)
    boss.supervise(queue)
    assert probe.job(expired)["output"] == {"value": {"message": "job timed out"}}
    assert probe.job(silent)["output"] == {"value": {"message": "job heartbeat timeout"}}
    assert [probe.job(i)["state"] for i in (expired, silent, fresh)] == ["retry", "retry", "active"]


def test_retention_deletes_finished_and_never_started_jobs(boss: PgBoss, queue: str, probe: Probe) -> None:
    """Maintenance: completed past delete_after_seconds and queued past keep_until are deleted."""
    boss.create_queue(queue, delete_after_seconds=60, retention_seconds=120)
    done, stale, kept = boss.send(queue), boss.send(queue), boss.send(queue)
    boss.complete(queue, done or "", include_queued=True)
    probe.age(done, 61)
    probe.age(stale, 121)
    boss.supervise(queue)
    assert probe.rows("job_row", id=done) == [] and probe.rows("job_row", id=stale) == []
    assert probe.job(kept)["state"] == "created"


def test_cron_fires_once_per_minute_across_instances_and_forwards(
    own_boss: PgBoss, queue: str, shared_database: str, fresh_schema: str
) -> None:
    """A due schedule files one send-it job per minute slot, however many passes run; forward sends it."""
    own_boss.create_queue(queue)
    own_boss.schedule(queue, "* * * * *", {"from": "cron"}, tz="Europe/Berlin", priority=3)
    (stored,) = own_boss.get_schedules(queue)
    assert (stored.timezone, stored.options) == ("Europe/Berlin", {"tz": "Europe/Berlin", "priority": 3})
    other = PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False).start()
    try:
        own_boss.create_queue(SEND_IT_QUEUE, notify=False)
        assert own_boss.timekeeper.cron_pass(force=True) == 1
        other.timekeeper.cron_pass(force=True)  # a second instance, same minute: slot taken
        filed = own_boss.fetch(SEND_IT_QUEUE, 10)
        assert len(filed) <= 2
        own_boss.timekeeper.forward(filed)
    finally:
        other.stop(timeout=1)
    sent = own_boss.fetch(queue, 10, include_metadata=True)
    assert len(sent) in (1, 2)  # two only if the passes straddled a minute boundary
    assert (sent[0].data, sent[0].priority) == ({"from": "cron"}, 3)
    assert own_boss.get_schedules(queue)[0].last_job_id in {j.id for j in sent}
    own_boss.unschedule(queue)
    assert own_boss.get_schedules(queue) == []
    with pytest.raises(ValueError, match="cron"):
        own_boss.schedule(queue, "not a cron")
    with pytest.raises(ValueError, match="tz"):
        own_boss.schedule(queue, "* * * * *", tz="Mars/Olympus")


def test_publish_sends_to_every_subscribed_queue(boss: PgBoss, queue: str) -> None:
    """publish(event) sends one job to each subscriber; unsubscribe stops it."""
    other = f"{queue}-b"
    boss.create_queue(queue)
    boss.create_queue(other)
    boss.subscribe("user.created", queue)
    boss.subscribe("user.created", other)
    assert len([i for i in boss.publish("user.created", {"id": 7}) if i]) == 2
    boss.unsubscribe("user.created", other)
    boss.publish("user.created", {"id": 8})
    assert sorted(j.data["id"] for j in boss.fetch(queue, 5)) == [7, 8]
    assert [j.data["id"] for j in boss.fetch(other, 5)] == [7]


def test_flow_children_run_after_all_parents_complete(boss: PgBoss, queue: str) -> None:
    """flow(): a child stays blocked until every parent completes and the resolver runs."""
    boss.create_queue(queue)
    ids = boss.flow(
        [
            {"ref": "a", "name": queue, "data": {"step": "a"}},
            {"ref": "b", "name": queue, "data": {"step": "b"}},
            {"ref": "c", "name": queue, "data": {"step": "c"}, "depends_on": ["a", "b"]},
        ]
    )
    parents = boss.fetch(queue, 10)
    assert sorted(j.data["step"] for j in parents) == ["a", "b"]
    boss.complete(queue, ids["a"])
    boss.resolve_flow()
    assert boss.fetch(queue) == []
    boss.complete(queue, ids["b"])
    assert boss.resolve_flow() == 1
    assert [j.id for j in boss.fetch(queue)] == [ids["c"]]


def test_polling_covers_the_gap_while_the_listener_is_down(own_boss: PgBoss, queue: str) -> None:
    """With no LISTEN connection, a notify queue's worker falls back to its polling interval."""
    own_boss.create_queue(queue)
    own_boss.notifier.stop()
    assert not own_boss.listening()
    picked = threading.Event()
    own_boss.work(queue, lambda jobs: picked.set(), polling_interval_seconds=0.5)
    try:
        own_boss.send(queue)
        assert picked.wait(WAIT_SECONDS)
    finally:
        own_boss.off_work(queue)


def test_a_send_in_a_callers_transaction_notifies_at_its_commit(
    boss: PgBoss, queue: str, shared_database: str
) -> None:
    """The NOTIFY rides in the caller's transaction: nothing before commit, a wake-up right after it."""
    engine = make_engine(shared_database, pool_size=1)
    try:
        with picking_worker(boss, queue) as (picked, work_id):
            wait_for(boss.listening, "the listener up", timeout=WAIT_SECONDS)
            _idle_after_fetching(boss, work_id)
            with engine.begin() as conn:
                boss.send(queue, {"tx": True}, conn=conn)
                assert not picked.wait(0.5)
            assert picked.wait(5), "the commit's notification did not wake the worker"
    finally:
        engine.dispose()


def test_touch_keeps_a_heartbeat_job_alive_through_supervision(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """A job touched within heartbeat_seconds survives the monitor; an untouched one fails."""
    boss.create_queue(queue, heartbeat_seconds=10, retry_limit=0)
    touched, silent = boss.send(queue), boss.send(queue)
    boss.fetch(queue, 2)
    probe.age(touched, 11)
    probe.age(silent, 11)
    assert boss.touch(queue, touched or "").affected == 1
    boss.supervise(queue)
    assert (probe.job(touched)["state"], probe.job(silent)["state"]) == ("active", "failed")
