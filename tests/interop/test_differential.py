"""Differential tests: every scenario runs through the real pg-boss 12 and through our port; rows must match.

All scenarios run through the real pg-boss first, in one Node process, each on its own schema of one
database; each test then replays its scenario on our port in another schema of the same database and
compares per-op results and the resulting job rows (see ``differential.py`` for the compared fields).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from differential import (
    RunResult,
    Scenario,
    fetch_rows,
    job_differences,
    normalise_jobs,
    normalise_results,
    run_node_batch,
    run_port,
)
from pgboss_node import NodeRuntime
from scenarios import SCENARIOS

from bakeoff.testing import TestDatabases

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def differential_database(test_databases: TestDatabases) -> Iterator[str]:
    """One database for the whole module: a schema per scenario per implementation."""
    url = test_databases.create()
    yield url
    test_databases.drop(url)


@pytest.fixture(scope="module")
def real_pgboss_runs(pgboss_runtime: NodeRuntime, differential_database: str) -> dict[str, RunResult | str]:
    """Every scenario run by the real pg-boss, in one Node process, keyed by scenario name."""
    batch = [(f"theirs_{index}", scenario) for index, scenario in enumerate(SCENARIOS)]
    outcomes = run_node_batch(pgboss_runtime, differential_database, batch)
    return {scenario.name: outcome for (_, scenario), outcome in zip(batch, outcomes, strict=True)}


def test_there_are_at_least_thirty_scenarios_with_unique_names() -> None:
    """The suite covers >= 30 distinct scenarios (issue 9's floor)."""
    names = [scenario.name for scenario in SCENARIOS]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_port_matches_real_pgboss(
    scenario: Scenario, real_pgboss_runs: dict[str, RunResult | str], differential_database: str
) -> None:
    """Our port returns the same per-op results and leaves the same job rows as the real pg-boss."""
    theirs = real_pgboss_runs[scenario.name]
    assert not isinstance(theirs, str), f"the real pg-boss failed this scenario:\n{theirs}"
    index = SCENARIOS.index(scenario)
    ours = run_port(differential_database, f"ours_{index}", scenario)

    assert normalise_results(ours.results) == normalise_results(theirs.results)
    their_jobs = normalise_jobs(
        fetch_rows(differential_database, "dump_jobs", f"theirs_{index}"), theirs.refs, scenario
    )
    our_jobs = normalise_jobs(
        fetch_rows(differential_database, "dump_jobs", f"ours_{index}"), ours.refs, scenario
    )
    assert job_differences(their_jobs, our_jobs, scenario) == []
    assert their_jobs, "a scenario that leaves no rows proves nothing"


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
