"""The arm base's shared parts, without a database: id parsing, error kinds, the catch-up pass."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bakeoff.backends.base import ArmBackend, Settled, error_kind_for, parse_uuid
from bakeoff.contract import Health, ImportRequest, InvalidRequest, JobState
from bakeoff.metrics.recorder import FinishResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class ListArm(ArmBackend):
    """An arm whose settled jobs are a list; what it records is kept instead of written."""

    name = "list"

    def __init__(self, settled: Iterable[tuple[Settled, datetime]] | Exception) -> None:
        self.settled = settled
        self.recorded: list[Settled] = []

    def settled_since(self, since: datetime) -> Iterable[tuple[Settled, datetime]]:
        if isinstance(self.settled, Exception):
            raise self.settled
        return [(s, at) for s, at in self.settled if at > since]

    def record(self, settled: Settled) -> FinishResult | None:
        self.recorded.append(settled)
        return FinishResult.RECORDED

    def submit(self, request: ImportRequest, *, trial_job_id: uuid.UUID, conn: Any) -> str:
        raise NotImplementedError

    def state(self, backend_job_id: str) -> JobState:
        raise NotImplementedError

    def cancel(self, backend_job_id: str) -> bool:
        raise NotImplementedError

    def health(self) -> Health:
        return Health(ok=True)

    def start_workers(self, concurrency: int, stop: threading.Event) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _settled(outcome: Any = "completed") -> Settled:
    return Settled(trial_job_id=uuid.uuid4(), outcome=outcome)


def test_parse_uuid_takes_what_arms_store_and_refuses_the_rest() -> None:
    value = uuid.uuid4()
    assert parse_uuid(value) == value and parse_uuid(str(value)) == value
    assert [parse_uuid(bad) for bad in (None, "", "not-a-uuid", 42)] == [None, None, None, None]


def test_error_kind_follows_the_outcome() -> None:
    assert error_kind_for("completed", "http_4xx") is None
    assert error_kind_for("cancelled") == "cancelled"
    assert error_kind_for("failed", "http_5xx") == "http_5xx"
    assert error_kind_for("failed") == "internal_error"


def test_reconcile_records_every_settled_job_and_returns_the_latest_end() -> None:
    jobs = [(_settled(), T0 + timedelta(seconds=2)), (_settled("failed"), T0 + timedelta(seconds=5))]
    arm = ListArm(jobs)
    assert arm.reconcile(T0) == T0 + timedelta(seconds=5)
    assert arm.recorded == [s for s, _ in jobs]
    assert arm.reconcile(T0 + timedelta(seconds=5)) == T0 + timedelta(seconds=5)


def test_catch_up_contains_a_failure_and_starts_again_from_the_same_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    arm = ListArm(RuntimeError("database gone"))
    assert arm.catch_up(T0) == T0
    assert "catching up on settled jobs' outcomes failed" in caplog.text
    assert arm.recorded == []


def test_run_workers_refuses_no_workers() -> None:
    with pytest.raises(InvalidRequest, match="concurrency"):
        ListArm([]).run_workers(concurrency=0, stop=threading.Event())
