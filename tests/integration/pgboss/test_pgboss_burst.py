"""A bursting ``work()`` loop settles a full batch and claims the next in one round trip
(``settle_and_fetch``): the same rows change as with ``complete()``/``fail()`` then ``fetch()``."""

from __future__ import annotations

import threading

from bakeoff.backends.pgboss import Job, PgBoss
from bakeoff.testing import wait_for

from .conftest import Probe

WAIT_SECONDS = 10.0


def test_a_bursting_worker_settles_every_batch_and_handles_each_job_once(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    boss.create_queue(queue, retry_limit=0)
    boss.insert(queue, [{"data": {"i": i, "bad": i in (7, 18)}} for i in range(25)])
    seen: list[int] = []
    lock = threading.Lock()

    def handler(jobs: list[Job]) -> None:
        with lock:
            seen.extend(job.data["i"] for job in jobs)
        if any(job.data["bad"] for job in jobs):
            raise RuntimeError("bad batch")

    boss.work(queue, handler, batch_size=5, burst_when_batch_full=True, polling_interval_seconds=0.5)
    try:
        wait_for(
            lambda: all(row["state"] in ("completed", "failed") for row in probe.jobs(queue)),
            "every job settled",
            timeout=WAIT_SECONDS,
        )
    finally:
        boss.off_work(queue)
    assert sorted(seen) == list(range(25))
    rows = {row["data"]["i"]: row for row in probe.jobs(queue)}
    failed = {i for i, row in rows.items() if row["state"] == "failed"}
    # Batches of 5 in creation order: the batches holding 7 and 18 fail as a whole.
    assert failed == set(range(5, 10)) | set(range(15, 20))
    assert all(rows[i]["output"]["message"] == "bad batch" for i in failed)


def test_settle_and_fetch_completes_then_claims_the_next_batch(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    boss.create_queue(queue)
    boss.insert(queue, [{"data": {"i": i}} for i in range(5)])
    first = boss.fetch(queue, 2)
    result, following = boss.settle_and_fetch(queue, first, {"ok": 1}, failed=False, batch_size=2)
    assert (result.requested, result.affected) == (2, 2)
    assert [job.data["i"] for job in following] == [2, 3]
    assert [probe.job(job.id)["state"] for job in first] == ["completed", "completed"]
    assert [probe.job(job.id)["output"] for job in first] == [{"ok": 1}, {"ok": 1}]
    assert [probe.job(job.id)["state"] for job in following] == ["active", "active"]
    # A stale attempt is fenced: settling the same jobs again changes nothing.
    again, last = boss.settle_and_fetch(queue, first, None, failed=False, batch_size=1)
    assert again.affected == 0
    assert [job.data["i"] for job in last] == [4]


def test_settle_and_fetch_fails_through_retry_and_refetches_on_other_policies(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    boss.create_queue(queue, retry_limit=1)
    boss.send(queue, {"i": 0})
    (job,) = boss.fetch(queue)
    result, following = boss.settle_and_fetch(queue, [job], RuntimeError("no"), failed=True, batch_size=1)
    assert result.affected == 1
    # Failed into retry with retry_delay 0, it is ready at once: the same round trip claims it again.
    assert [(j.id, j.retry_count) for j in following] == [(job.id, 1)]
    row = probe.job(job.id)
    assert (row["state"], row["retry_count"], row["output"]["message"]) == ("active", 1, "no")

    singleton = f"{queue}-s"
    boss.create_queue(singleton, policy="singleton")
    ids = [boss.send(singleton, {"i": i}, singleton_key=f"k{i}") for i in range(2)]
    (claimed,) = boss.fetch(singleton)
    result, following = boss.settle_and_fetch(singleton, [claimed], None, failed=False, batch_size=1)
    assert result.affected == 1
    assert {claimed.id, *(j.id for j in following)} == set(ids)
