"""Helpers for the legacy arm's integration tests: submitting as the router does, and bounded waits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine

from bakeoff.backends.legacy.adapter import LegacyBackend
from bakeoff.contract import ImportRequest
from bakeoff.metrics import Recorder
from bakeoff.testing import single_arm_router

WAIT_SECONDS = 60.0
FAST_POLL = 0.05


def submit_as_router(
    engine: Engine, backend: LegacyBackend, url: str = "http://127.0.0.1:9/a"
) -> tuple[uuid.UUID, str]:
    """Submit through a real router whose only arm is ``backend``; (trial id, job id)."""
    with single_arm_router(engine, backend) as router:
        submission = router.submit(ImportRequest(url=url))
    return submission.trial_job_id, submission.backend_job_id


def event_names(engine: Engine, trial_job_id: uuid.UUID) -> list[str]:
    return [event for _, event, _, _ in Recorder(engine).events(trial_job_id)]


def backend(engine: Engine, **options: Any) -> LegacyBackend:
    """A legacy backend polling fast (tests), other switches as given."""
    options.setdefault("poll_interval", FAST_POLL)
    return LegacyBackend(engine, **options)
