"""``bakeoff serve --workers 2`` under concurrent clients, then with one of its processes SIGKILLed.

Reduced for CI (40 clients for 20 s); ``benchmarks/faults_report.py`` runs 200 clients for 60 s.
"""

from __future__ import annotations

import pytest

from bakeoff.testing.service_load import run_service_load

CLIENTS = 40
SECONDS = 20.0


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_service_under_load_with_one_process_killed_answers_no_5xx_and_duplicates_nothing(
    database_url: str,
) -> None:
    """Clients post imports, each with its own idempotency key; halfway one uvicorn worker process is
    SIGKILLed and the clients retry what it cut off with the same key. No 5xx; accepted keys =
    exposures = trial jobs = enqueued backend jobs; no key has two trial jobs. Then 100 accepted keys are
    posted again: each is answered 200 ``duplicate`` and the counts do not move."""
    figures = run_service_load(database_url, clients=CLIENTS, seconds=SECONDS, kill_one_process=True)
    print("\n" + figures.row())

    assert figures.problems() == []
    assert figures.killed_pid is not None
    assert figures.accepted > CLIENTS, "every client must have had submissions accepted"
    assert figures.transport_errors > 0, "the kill must have cut off some requests, which were retried"
    assert figures.server_errors == 0
    assert figures.replayed == 100 and figures.replay_duplicates == 100, "a replayed key must add nothing"
