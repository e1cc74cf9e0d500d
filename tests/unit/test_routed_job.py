"""The router's one write per submit as a frozen value: its parameters and its validation."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bakeoff.contract import InvalidRequest
from bakeoff.metrics import RoutedJob


def _job(**changes: Any) -> RoutedJob:
    fields: dict[str, Any] = {
        "trial_job_id": uuid.uuid4(),
        "experiment": "e",
        "phase": 2,
        "salt": "s",
        "killed_arms": ("inngest",),
        "unit_key": "u",
        "assigned_arm": "pgboss",
        "served_arm": "legacy",
        "assignment_reason": "fallback",
        "decided_reason": "hash",
        "url": "http://example.com/",
        "backend_job_id": "17",
        "fallback_at": datetime(2026, 1, 1, tzinfo=UTC),
        "fallback_detail": {"error": "boom"},
    }
    return RoutedJob(**{**fields, **changes})


def test_params_carry_the_rule_and_the_events_details() -> None:
    """The 'submitted' event keeps the reason first decided; the fallback and enqueue details are JSON."""
    params = _job().params()
    assert params["killed_arms"] == ["inngest"]
    assert json.loads(params["submitted_detail"]) == {"assigned_arm": "pgboss", "reason": "hash"}
    assert json.loads(params["fallback_detail"]) == {"error": "boom"}
    assert json.loads(params["enqueued_detail"]) == {"backend_job_id": "17"}
    assert params["submitted_at"] is None and params["override_given"] is False


def test_a_plain_route_has_no_fallback_detail_and_its_own_reason() -> None:
    params = _job(
        assignment_reason="hash", decided_reason=None, fallback_at=None, fallback_detail=None
    ).params()
    assert params["fallback_detail"] is None
    assert json.loads(params["submitted_detail"])["reason"] == "hash"


@pytest.mark.parametrize("field", ["assignment_reason", "decided_reason"])
def test_an_unknown_reason_is_refused_by_name(field: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        _job(**{field: "luck"})


def test_it_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _job().phase = 3  # type: ignore[misc]
