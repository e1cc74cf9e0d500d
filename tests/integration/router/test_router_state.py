"""Experiment state in the database: phases, bad input, visibility across routers and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from router_support import MakeRouter, key_for, rows
from sqlalchemy import Engine

from bakeoff.contract import ConfigurationError, ImportRequest
from bakeoff.router import Experiment, ExperimentStore, Layout


def stored(engine: Engine) -> tuple[object, ...]:
    [row] = rows(engine, "SELECT arms, weights, control, salt, phase, killed_arms FROM bakeoff.experiments")
    return tuple(row)


def test_a_weight_change_starts_a_new_phase_with_a_derived_salt(
    engine: Engine, make_router: MakeRouter
) -> None:
    """set_weights: phase 2, salt '{base}:p2', recorded in experiment_phases; submits carry phase 2."""
    router = make_router()
    state = router.set_weights({"legacy": 2, "pgboss": 1, "inngest": 1})
    assert (state.phase, state.salt, state.weights) == (2, "article-import:p2", (2.0, 1.0, 1.0))
    phases = rows(engine, "SELECT phase, weights, salt FROM bakeoff.experiment_phases ORDER BY phase")
    assert [(p.phase, p.weights, p.salt) for p in phases] == [
        (1, [1.0, 1.0, 1.0], "article-import"),
        (2, [2.0, 1.0, 1.0], "article-import:p2"),
    ]
    sub = router.submit(ImportRequest(url="https://articles.example/1", unit_key="user-42"))
    expected = Layout(salt="article-import:p2", arms=state.arms, weights=(2, 1, 1)).assign("user-42")
    assert (sub.phase, sub.assigned_arm) == (2, expected)
    assert router.set_weights({"legacy": 2, "pgboss": 1, "inngest": 1}).phase == 2  # same weights: no phase


def test_kill_and_revive_start_no_phase(engine: Engine, make_router: MakeRouter) -> None:
    """Kill switches leave phase and salt alone."""
    router = make_router()
    router.kill("pgboss")
    router.revive("pgboss")
    assert stored(engine)[3:] == ("article-import", 1, [])
    assert len(rows(engine, "SELECT 1 FROM bakeoff.experiment_phases")) == 1


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r.set_weights({"legacy": 1, "pgboss": 1, "nosuch": 1}), "unknown arm"),
        (lambda r: r.set_weights({"legacy": 1, "pgboss": -1, "inngest": 1}), "'pgboss' must be a finite"),
        (lambda r: r.set_weights({"legacy": 0, "pgboss": 0, "inngest": 0}), "must not all be zero"),
        (lambda r: r.set_weights({"legacy": 1, "pgboss": 1}), "missing arm"),
        (lambda r: r.kill("nosuch"), "arm 'nosuch' is not an arm"),
        (lambda r: r.kill("legacy"), "control arm"),
        (lambda r: r.set_override("u", "nosuch"), "arm 'nosuch' is not an arm"),
        (lambda r: r.set_override("", "pgboss"), "unit_key must be a non-empty"),
        (lambda r: r.assign(""), "unit_key must be a non-empty"),
    ],
)
def test_bad_input_raises_value_error_and_leaves_the_experiment_unchanged(
    engine: Engine, make_router: MakeRouter, change: object, fragment: str
) -> None:
    """Unknown arm, negative/zero/short weights, killing control, empty key: ValueError, nothing stored."""
    router = make_router()
    before = stored(engine)
    with pytest.raises(ValueError, match=fragment):
        change(router)  # type: ignore[operator]
    assert stored(engine) == before
    assert rows(engine, "SELECT count(*) AS n FROM bakeoff.unit_overrides")[0].n == 0


def test_a_change_made_by_one_router_applies_to_the_next_submit_of_another(
    engine: Engine, make_router: MakeRouter
) -> None:
    """State lives in the database: router B kills an arm; router A's very next submit honours it."""
    router_a, router_b = make_router(), make_router()
    key = key_for(router_a, "pgboss")
    router_b.kill("pgboss")
    sub = router_a.submit(ImportRequest(url="https://articles.example/x", unit_key=key))
    assert (sub.served_arm, sub.reason) == ("legacy", "killed")
    assert router_a.state.killed_arms == {"pgboss"}
    router_b.set_weights({"legacy": 1, "pgboss": 1, "inngest": 2})
    assert router_a.submit(ImportRequest(url="https://articles.example/y")).phase == 2
    # Router A first enqueued by its stale rule; that attempt rolled back whole, its job with it.
    jobs = rows(engine, "SELECT arm, trial_job_id FROM public.router_fake_jobs ORDER BY job_id")
    trial = rows(engine, "SELECT served_arm, trial_job_id FROM bakeoff.trial_jobs ORDER BY submitted_at")
    assert [(j.arm, j.trial_job_id) for j in jobs] == [(t.served_arm, t.trial_job_id) for t in trial]
    assert jobs[0].arm == "legacy"


def test_a_stored_experiment_with_other_arms_control_or_salt_is_refused(
    engine: Engine, make_router: MakeRouter
) -> None:
    """Re-declaring an experiment with a different shape would re-randomise units: refused."""
    make_router()
    for changed in (
        Experiment(name="article-import", arms=("legacy", "pgboss")),
        Experiment(name="article-import", control="pgboss"),
        Experiment(name="article-import", salt="other"),
    ):
        with pytest.raises(ConfigurationError, match="re-randomise"):
            make_router(experiment=changed)


def test_a_router_needs_a_backend_for_every_arm(engine: Engine, make_router: MakeRouter) -> None:
    """A missing backend is named."""
    from bakeoff.router import Router

    with pytest.raises(ValueError, match="no backend for arm"):
        Router(engine, experiment=Experiment(name="article-import"), backends={})


def test_store_lists_overrides_and_phases(engine: Engine, make_router: MakeRouter) -> None:
    """The store reads back what the router wrote."""
    router = make_router()
    router.set_override("vip", "inngest")
    router.set_weights({"legacy": 1, "pgboss": 0, "inngest": 1})
    store = ExperimentStore(engine)
    assert store.overrides("article-import") == {"vip": "inngest"}
    assert [p.phase for p in store.phases("article-import")] == [1, 2]


CHILD = """
import json, sys
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend
from bakeoff.db.engine import make_engine
engine = make_engine(sys.argv[1], pool_size=1)
backends = {arm: RecordingBackend(arm, engine) for arm in ("legacy", "pgboss", "inngest")}
with Router(engine, experiment=Experiment(name="article-import"), backends=backends) as router:
    print(json.dumps([router.assign(f"unit-{i}") for i in range(2000)]))
"""


def test_assignments_are_identical_across_router_instances_and_processes(
    database_url: str, make_router: MakeRouter
) -> None:
    """Two routers here and one in a subprocess (another hash seed) assign 2,000 keys identically."""
    first, second = make_router(), make_router()
    here = [first.assign(f"unit-{i}") for i in range(2000)]
    assert here == [second.assign(f"unit-{i}") for i in range(2000)]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, database_url], capture_output=True, text=True, env=env, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == here
    assert set(here) == {"legacy", "pgboss", "inngest"}


def test_assign_touches_no_database_connection(engine: Engine, make_router: MakeRouter) -> None:
    """assign() and decide() are pure: 1,000 calls check out no pooled connection."""
    from sqlalchemy import event

    router = make_router()
    checkouts: list[object] = []

    def on_checkout(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", on_checkout)
    try:
        for i in range(1000):
            router.assign(f"u{i}")
            router.decide(f"u{i}")
    finally:
        event.remove(engine, "checkout", on_checkout)
    assert checkouts == []


def test_an_arm_whose_backend_cannot_be_built_falls_back_to_control(
    database_url: str, engine: Engine
) -> None:
    """A router given a URL, with arms built lazily, serves by control when an arm's factory raises."""
    from bakeoff.contract import BackendError
    from bakeoff.router import Router
    from bakeoff.router.arms import LazyBackends
    from bakeoff.testing import RecordingBackend

    def factory(name: str, engine: Engine) -> RecordingBackend:
        if name == "inngest":
            raise BackendError("the inngest arm is not installed here")
        return RecordingBackend(name, engine)

    with Router(
        database_url,
        experiment=Experiment(name="article-import"),
        backends=LazyBackends(("legacy", "pgboss", "inngest"), factory, engine),
    ) as router:
        sub = router.submit(
            ImportRequest(url="https://articles.example/z", unit_key=key_for(router, "inngest"))
        )
    assert (sub.assigned_arm, sub.served_arm, sub.reason) == ("inngest", "legacy", "fallback")
    [event] = rows(engine, "SELECT detail FROM bakeoff.job_events WHERE event = 'fallback'")
    assert "not installed" in event.detail["error"]


def test_building_an_arm_lazily_does_not_count_against_its_submit_budget(
    database_url: str, engine: Engine
) -> None:
    """An arm whose construction outlasts the budget still serves: only its submit is timed."""
    import time

    from bakeoff.router import Router
    from bakeoff.router.arms import LazyBackends
    from bakeoff.testing import RecordingBackend

    def slow_factory(name: str, engine: Engine) -> RecordingBackend:
        time.sleep(1.2)  # e.g. importing and registering a backend's functions on first use
        return RecordingBackend(name, engine)

    backends = LazyBackends(("legacy", "pgboss", "inngest"), slow_factory, engine)
    with Router(
        engine, experiment=Experiment(name="article-import"), backends=backends, submit_timeout=1.0
    ) as r:
        sub = r.submit(ImportRequest(url="https://articles.example/slow", unit_key=key_for(r, "pgboss")))
    assert (sub.served_arm, sub.reason) == ("pgboss", "hash")


def test_a_router_on_an_unreachable_database_says_so_with_the_password_masked() -> None:
    """Nothing listens on port 1: DatabaseUnavailable, naming the server without its password."""
    from bakeoff.contract import DatabaseUnavailable
    from bakeoff.router import Router

    with pytest.raises(DatabaseUnavailable, match="cannot read experiment state") as caught:
        Router("postgresql://u:hunter2@127.0.0.1:1/x", experiment=Experiment(), backends={})
    assert "hunter2" not in str(caught.value)
