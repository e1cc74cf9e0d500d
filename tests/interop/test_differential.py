"""Differential tests: every scenario runs through the real pg-boss 12 and through our port; rows must match.

A module fixture runs every scenario through the real pg-boss (one Node process, one schema reused
scenario after scenario) and, at the same time, through our port (a few threads, a schema each) in the
same database; each run's rows are dumped before its schema is emptied. Each test then compares one
scenario's per-op results and rows (see ``differential.py`` for the compared fields).
"""

from __future__ import annotations

import queue
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from differential import (
    RunResult,
    Scenario,
    job_differences,
    normalise_jobs,
    normalise_queues,
    normalise_results,
    normalise_schedules,
    normalise_subscriptions,
    reset_schema,
    run_node_batch,
    run_port,
)
from scenarios import SCENARIOS

from bakeoff.testing import TestDatabases
from bakeoff.testing.pgboss_node import PgBossRuntime

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def differential_database(test_databases: TestDatabases) -> Iterator[str]:
    """One database for the whole module: one schema for Node, a few for the port."""
    url = test_databases.create()
    yield url
    test_databases.drop(url)


PORT_SCHEMAS = 3
"""Port runs at once, each reusing its own schema, while Node runs its batch in one more."""


def _port_runs(url: str) -> list[RunResult | str]:
    schemas: queue.SimpleQueue[str] = queue.SimpleQueue()
    for index in range(PORT_SCHEMAS):
        schemas.put(f"ours_{index}")

    def run(scenario: Scenario) -> RunResult | str:
        schema = schemas.get()
        try:
            return run_port(url, schema, scenario)
        except Exception:
            reset_schema(url, schema)
            return traceback.format_exc()
        finally:
            schemas.put(schema)

    with ThreadPoolExecutor(max_workers=PORT_SCHEMAS) as pool:
        return list(pool.map(run, SCENARIOS))


@pytest.fixture(scope="module")
def both_runs(
    pgboss_runtime: PgBossRuntime, differential_database: str
) -> dict[str, tuple[RunResult | str, RunResult | str]]:
    """Every scenario through the real pg-boss (one Node process) and through our port, concurrently.

    Keyed by scenario name: (theirs, ours), each a RunResult with the rows it left, or the error text.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        node = pool.submit(run_node_batch, pgboss_runtime, differential_database, "theirs", SCENARIOS)
        ours = _port_runs(differential_database)
        theirs = node.result()
    return {s.name: (t, o) for s, t, o in zip(SCENARIOS, theirs, ours, strict=True)}


def test_there_are_at_least_thirty_scenarios_with_unique_names() -> None:
    """The suite covers >= 30 distinct scenarios (issue 9's floor)."""
    names = [scenario.name for scenario in SCENARIOS]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name) for s in SCENARIOS])
def test_port_matches_real_pgboss(
    scenario: Scenario,
    both_runs: dict[str, tuple[RunResult | str, RunResult | str]],
) -> None:
    """Our port returns the same per-op results and leaves the same job rows as the real pg-boss."""
    theirs, ours = both_runs[scenario.name]
    assert not isinstance(theirs, str), f"the real pg-boss failed this scenario:\n{theirs}"
    assert not isinstance(ours, str), f"our port failed this scenario:\n{ours}"
    assert normalise_results(ours.results) == normalise_results(theirs.results, theirs=True)
    their_jobs = normalise_jobs(theirs.rows["dump_jobs"], theirs.refs, scenario)
    our_jobs = normalise_jobs(ours.rows["dump_jobs"], ours.refs, scenario)
    assert job_differences(their_jobs, our_jobs, scenario) == []
    assert their_jobs, "a scenario that leaves no rows proves nothing"
    for query, normalise in (
        ("dump_queues", normalise_queues),
        ("dump_schedules", normalise_schedules),
        ("dump_subscriptions", normalise_subscriptions),
    ):
        assert normalise(ours.rows[query]) == normalise(theirs.rows[query]), query


def test_comparison_reports_each_differing_field() -> None:
    """The comparator is not vacuous: a changed retry_count or state shows up as a named difference."""
    scenario = Scenario(name="self_check", ops=[])
    row = {
        "id": "1",
        "name": "q",
        "state": "retry",
        "retry_count": 1,
        "created_on": "2026-01-01T00:00:00+00:00",
        "start_after": "2026-01-01T00:00:30+00:00",
    }
    theirs = normalise_jobs([row], {"a": "1"}, scenario)
    ours = normalise_jobs(
        [{**row, "retry_count": 2, "start_after": "2026-01-01T00:00:40+00:00"}], {"a": "1"}, scenario
    )
    assert job_differences(theirs, ours, scenario) == [
        "q/a: retry_count ours=2 theirs=1",
        "q/a: start_after_offset ours=40.0 theirs=30.0",
    ]
    assert job_differences(theirs, [], scenario)[0].startswith("job count: ours=0 theirs=1")
