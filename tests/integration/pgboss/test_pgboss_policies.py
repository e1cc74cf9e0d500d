"""Queue policies, throttle/debounce slots, dead letters and redrive (pg-boss's queueTest,
throttleTest, singletonTest, statelyTest, exclusiveTest, keyStrictFifoTest, deadLetterTest, redriveTest)."""

from __future__ import annotations

import pytest

from bakeoff.backends.pgboss import PgBoss

from .conftest import Probe


def test_short_policy_allows_one_created_job_per_key(boss: PgBoss, queue: str) -> None:
    """short: a second queued job is refused (None); once the first is active another may queue."""
    boss.create_queue(queue, policy="short")
    first = boss.send(queue)
    assert first is not None
    assert boss.send(queue) is None
    assert boss.send(queue, singleton_key="other") is not None
    assert [j.id for j in boss.fetch(queue)] == [first]
    assert boss.send(queue) is not None


def test_singleton_policy_allows_one_active_job_per_key(boss: PgBoss, queue: str) -> None:
    """singleton: many queued, but fetch claims one per key while one is active."""
    boss.create_queue(queue, policy="singleton")
    boss.insert(queue, [{"data": {"i": i}} for i in range(3)] + [{"singleton_key": "k"}])
    claimed = boss.fetch(queue, 10)
    assert len(claimed) == 2  # one unkeyed, one keyed
    assert boss.fetch(queue, 10) == []
    boss.complete(queue, claimed)
    assert len(boss.fetch(queue, 10)) == 1


def test_stately_policy_one_job_per_state_and_a_second_retry_goes_to_failed(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """stately: one job per state; failing an active job while another waits in retry fails it (+ DLQ)."""
    dlq = f"{queue}-dlq"
    boss.create_queue(dlq)
    boss.create_queue(queue, policy="stately", retry_limit=3, dead_letter=dlq)
    first = boss.send(queue)
    assert boss.send(queue) is None  # the created slot is taken
    boss.fetch(queue)
    second = boss.send(queue, priority=10)  # created again, beside the active one
    assert second is not None
    boss.fail(queue, first or "")  # -> retry
    (active,) = boss.fetch(queue)  # the higher priority one; the retry slot stays with `first`
    assert active.id == second
    assert boss.fetch(queue) == []  # the active slot is taken
    boss.fail(queue, active)  # a second retry job is not allowed: straight to failed
    assert (probe.job(first)["state"], probe.job(second)["state"]) == ("retry", "failed")
    assert [str(row["source_id"]) for row in probe.jobs(dlq)] == [second]


def test_exclusive_policy_one_job_in_created_retry_or_active(boss: PgBoss, queue: str) -> None:
    """exclusive: a second job is refused until the first completes."""
    boss.create_queue(queue, policy="exclusive")
    first = boss.send(queue)
    assert boss.send(queue) is None
    boss.fetch(queue)
    assert boss.send(queue) is None
    boss.complete(queue, first or "")
    assert boss.send(queue) is not None


def test_key_strict_fifo_requires_a_key_and_blocks_the_key_while_a_job_is_active_or_failed(
    boss: PgBoss, queue: str
) -> None:
    """key_strict_fifo: per key strict order; a failed head blocks its key until retried or deleted."""
    boss.create_queue(queue, policy="key_strict_fifo", retry_limit=0)
    with pytest.raises(ValueError, match="key_strict_fifo queues require a singleton_key"):
        boss.send(queue)
    a1 = boss.send(queue, {"n": "a1"}, singleton_key="a")
    a2 = boss.send(queue, {"n": "a2"}, singleton_key="a")
    b1 = boss.send(queue, {"n": "b1"}, singleton_key="b")
    assert sorted(j.data["n"] for j in boss.fetch(queue, 10)) == ["a1", "b1"]
    assert boss.fetch(queue, 10) == []  # a2 waits behind the active a1
    boss.fail(queue, a1 or "")
    boss.complete(queue, b1 or "")
    assert boss.fetch(queue, 10) == []  # a failed a1 still blocks key a
    boss.delete_job(queue, a1 or "")
    assert [j.id for j in boss.fetch(queue, 10)] == [a2]


def test_throttled_sends_get_one_job_per_slot_and_deleting_frees_it(boss: PgBoss, queue: str) -> None:
    """send_throttled: the second send in the slot is refused; a deleted job frees its slot."""
    boss.create_queue(queue)
    first = boss.send_throttled(queue, {"n": 1}, 3600)
    assert first is not None
    assert boss.send_throttled(queue, {"n": 2}, 3600) is None
    assert boss.send_throttled(queue, {"n": 3}, 3600, key="other") is not None
    boss.fetch(queue)
    boss.complete(queue, first)
    assert boss.send_throttled(queue, {"n": 4}, 3600) is None  # completed jobs keep the slot
    boss.delete_job(queue, first)
    assert boss.send_throttled(queue, {"n": 5}, 3600) is not None


def test_debounced_sends_defer_into_the_next_slot_once(boss: PgBoss, queue: str, probe: Probe) -> None:
    """send_debounced: a second send goes to the next slot (deferred), a third is refused."""
    boss.create_queue(queue)
    first = boss.send_debounced(queue, {"n": 1}, 3600)
    second = boss.send_debounced(queue, {"n": 2}, 3600)
    assert first is not None and second is not None
    assert boss.send_debounced(queue, {"n": 3}, 3600) is None
    assert probe.job(second)["singleton_on"] > probe.job(first)["singleton_on"]
    assert probe.job(second)["start_after_in"] > 0


def test_failed_jobs_are_copied_to_the_dead_letter_queue_with_its_settings(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """A job failing for good leaves a new job in its dead letter queue: source_* set, DLQ's settings."""
    dlq = f"{queue}-dlq"
    boss.create_queue(dlq, retry_limit=7, expire_in_seconds=33)
    boss.create_queue(queue, retry_limit=0, dead_letter=dlq)
    job_id = boss.send(queue, {"payload": True}, singleton_key="sk")
    boss.fail(queue, boss.fetch(queue), {"reason": "bad"})
    (copy,) = probe.jobs(dlq)
    row = probe.job(str(copy["id"]))
    assert (str(row["source_id"]), row["source_name"], row["data"]) == (job_id, queue, {"payload": True})
    assert (row["retry_limit"], row["expire_seconds"], row["singleton_key"], row["state"]) == (
        7,
        33,
        "sk",
        "created",
    )
    per_job = boss.send(queue, dead_letter=dlq, retry_limit=0)
    boss.fail(queue, boss.fetch(queue))
    assert str(probe.jobs(dlq)[-1]["source_id"]) == per_job


def test_redrive_moves_dead_letters_back_to_their_source_as_new_jobs(
    boss: PgBoss, queue: str, probe: Probe
) -> None:
    """redrive: queued DLQ jobs become new jobs on the source queue (or a destination); returns the count."""
    dlq, elsewhere = f"{queue}-dlq", f"{queue}-else"
    boss.create_queue(dlq)
    boss.create_queue(elsewhere)
    boss.create_queue(queue, retry_limit=0, dead_letter=dlq)
    boss.insert(queue, [{"data": {"i": i}} for i in range(3)])
    boss.fail(queue, boss.fetch(queue, 3))
    assert len(probe.jobs(dlq)) == 3
    assert boss.redrive(dlq, limit=2) == 2
    assert boss.redrive(dlq, elsewhere) == 1
    assert probe.jobs(dlq) == []
    moved = [row for row in probe.jobs(queue) if row["state"] == "created"]
    assert len(moved) == 2 and all(row["retry_count"] == 0 for row in moved)
    assert len(probe.jobs(elsewhere)) == 1
