"""Many threads submitting at once with shared idempotency keys."""

from __future__ import annotations

import random
import threading
from collections import Counter

from router_support import MakeRouter, rows
from sqlalchemy import Engine

from bakeoff.contract import ImportRequest, Submission

THREADS = 8
SUBMITS_PER_THREAD = 500
KEYS = 500


def test_eight_threads_of_500_submits_with_shared_keys_give_no_duplicates_and_no_lost_rows(
    engine: Engine, make_router: MakeRouter
) -> None:
    """8 x 500 submits over 500 shared idempotency keys: exactly one row and one job per key, and
    every submit returns the Submission of that row."""
    router = make_router()
    results: list[list[Submission]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        keys = list(range(KEYS))
        random.Random(index).shuffle(keys)  # different orders make threads collide on keys
        try:
            for key in keys[:SUBMITS_PER_THREAD]:
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
    assert len(stored) == KEYS
    by_key = {row.idempotency_key: (row.trial_job_id, row.backend_job_id) for row in stored}
    trial_job_ids = {row.trial_job_id: row.idempotency_key for row in stored}
    assert len(by_key) == KEYS
    assert rows(engine, "SELECT count(*) AS n FROM public.router_fake_jobs")[0].n == KEYS
    submissions = [sub for per_thread in results for sub in per_thread]
    assert len(submissions) == THREADS * SUBMITS_PER_THREAD
    firsts = Counter(sub.trial_job_id for sub in submissions if not sub.duplicate)
    assert len(firsts) == KEYS and set(firsts.values()) == {1}
    for sub in submissions:
        assert sub.trial_job_id in trial_job_ids
        assert (sub.trial_job_id, sub.backend_job_id) == by_key[trial_job_ids[sub.trial_job_id]]
