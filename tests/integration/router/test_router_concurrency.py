"""Many threads submitting at once with shared idempotency keys."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from router_support import MakeRouter, rows
from sqlalchemy import Engine

from bakeoff.contract import ImportRequest, Submission

THREADS = 8


@pytest.mark.parametrize(
    ("submits_per_thread", "keys"),
    [pytest.param(500, 500, marks=pytest.mark.slow, id="8x500"), pytest.param(60, 40, id="8x60")],
)
def test_eight_threads_with_shared_idempotency_keys_give_no_duplicates_and_no_lost_rows(
    engine: Engine, make_router: MakeRouter, submits_per_thread: int, keys: int
) -> None:
    """8 threads x N submits over shared idempotency keys (every thread submits every key, in its own
    order): exactly one row and one job per key, and every submit returns the Submission of that row.
    The 8 x 500 run is the issue's acceptance test (slow); 8 x 60 is the same check, quick."""
    router = make_router()
    results: list[list[Submission]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        order = [i % keys for i in range(submits_per_thread)]
        random.Random(index).shuffle(order)  # different orders make threads collide on keys
        try:
            for key in order:
                request = ImportRequest(
                    url=f"https://articles.example/{key}",
                    unit_key=f"unit-{key}",
                    idempotency_key=f"key-{key}",
                )
                results[index].append(router.submit(request))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and not any(t.is_alive() for t in threads)

    stored = rows(engine, "SELECT idempotency_key, trial_job_id, backend_job_id FROM bakeoff.trial_jobs")
    assert len(stored) == keys
    by_key = {row.idempotency_key: (row.trial_job_id, row.backend_job_id) for row in stored}
    trial_job_ids = {row.trial_job_id: row.idempotency_key for row in stored}
    assert len(by_key) == keys
    assert rows(engine, "SELECT count(*) AS n FROM public.router_fake_jobs")[0].n == keys
    submissions = [sub for per_thread in results for sub in per_thread]
    assert len(submissions) == THREADS * submits_per_thread
    firsts = Counter(sub.trial_job_id for sub in submissions if not sub.duplicate)
    assert len(firsts) == keys and set(firsts.values()) == {1}
    for sub in submissions:
        assert sub.trial_job_id in trial_job_ids
        assert (sub.trial_job_id, sub.backend_job_id) == by_key[trial_job_ids[sub.trial_job_id]]
