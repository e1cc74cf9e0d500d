"""``JobBackend.close()``: what an arm opened in this process is released, and closing twice is fine."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.contract import ARM_NAMES, ImportRequest, JobBackend
from bakeoff.metrics import Recorder


def test_every_arm_closes_what_a_submit_opened_and_can_close_twice(engine: Engine) -> None:
    recorder, url = Recorder(engine), "http://127.0.0.1:9/a"
    for arm in ARM_NAMES:
        backend = create_backend(arm, engine)
        assert isinstance(backend, JobBackend)
        trial_job_id = uuid.uuid4()
        with engine.begin() as conn:
            recorder.submitted(
                trial_job_id=trial_job_id, experiment="close", phase=1, unit_key=str(trial_job_id),
                assigned_arm=arm, served_arm=arm, assignment_reason="hash", url=url, conn=conn,
            )  # fmt: skip
            backend.submit(ImportRequest(url=url), trial_job_id=trial_job_id, conn=conn)
        assert backend.health().ok  # opens the arm's own connections where it has any
        backend.close()
        backend.close()
        if arm == "pgboss":
            assert not backend.boss.is_started  # type: ignore[attr-defined]  # its LISTEN session is gone
        if arm == "inngest":
            assert backend.client._pool is None  # type: ignore[attr-defined]
