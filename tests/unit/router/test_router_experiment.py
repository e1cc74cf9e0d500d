"""Experiment values: validation naming the problem, defaults, decisions, the router's SQL file."""

from __future__ import annotations

import pytest

from bakeoff.router import Experiment, ExperimentState
from bakeoff.router.store import QUERIES


def state(**changes: object) -> ExperimentState:
    values: dict[str, object] = {
        "name": "article-import",
        "arms": ("legacy", "pgboss", "inngest"),
        "weights": (1.0, 1.0, 1.0),
        "control": "legacy",
        "salt": "article-import",
        "phase": 1,
        "base_salt": "article-import",
    }
    values.update(changes)
    return ExperimentState(**values)  # type: ignore[arg-type]


def test_defaults_are_three_equal_arms_with_legacy_as_control_and_the_name_as_salt() -> None:
    """Experiment() is the seed's 33/33/33 split salted by its name."""
    exp = Experiment(name="article-import")
    assert exp.arms == ("legacy", "pgboss", "inngest")
    assert exp.weights == (1.0, 1.0, 1.0)
    assert exp.base_salt == "article-import"
    assert Experiment(name="x", salt="pepper").base_salt == "pepper"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"arms": ()}, "arms must be a non-empty sequence"),
        ({"arms": ("a", "a"), "control": "a"}, "repeated: a"),
        ({"control": "nosuch"}, "control 'nosuch' is not an arm"),
        ({"weights": (1, 1)}, "2 values but there are 3 arms"),
        ({"weights": (0, 0, 0)}, "must not all be zero"),
        ({"weights": (1, -2, 1)}, "weight of arm 'pgboss'"),
        ({"salt": " "}, "salt must be a non-empty string"),
    ],
)
def test_bad_experiment_raises_value_error_naming_the_field(kwargs: dict[str, object], fragment: str) -> None:
    """Every malformed field gives a ValueError whose message names it."""
    with pytest.raises(ValueError, match=fragment):
        Experiment(**kwargs)  # type: ignore[arg-type]


def test_decide_serves_a_killed_arm_by_control_and_keeps_the_assignment() -> None:
    """Killed: assigned arm unchanged, served by control, reason 'killed'; others unaffected."""
    live = state()
    killed = state(killed_arms=frozenset({"pgboss"}))
    for i in range(300):
        key = f"u{i}"
        before, after = live.decide(key), killed.decide(key)
        assert after.assigned_arm == before.assigned_arm
        if before.assigned_arm == "pgboss":
            assert (after.served_arm, after.reason) == ("legacy", "killed")
        else:
            assert after == before


def test_decide_with_override_records_override_even_when_that_arm_is_killed() -> None:
    """An override pins the arm; if that arm is killed, control serves it and it stays an override."""
    assert state().decide("u", "inngest").reason == "override"
    decision = state(killed_arms=frozenset({"inngest"})).decide("u", "inngest")
    assert (decision.assigned_arm, decision.served_arm, decision.reason) == ("inngest", "legacy", "override")


def test_router_queries_load_by_name() -> None:
    """queries.sql parses and holds every query the router runs."""
    expected = {
        "insert_experiment",
        "insert_phase",
        "load_experiment",
        "lock_experiment",
        "route_state",
        "update_weights",
        "update_killed_arms",
        "select_phases",
        "upsert_override",
        "delete_override",
        "select_overrides",
        "select_submission",
        "fallback_clock",
        "select_trial_job_id",
    }
    assert set(QUERIES) == expected
