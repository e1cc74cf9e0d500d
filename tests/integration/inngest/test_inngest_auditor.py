"""The Epistemic Auditor both ways: parallel steps against the step limit, batching, and invoke fan-out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bakeoff.backends.inngest import Event, Inngest, Limits, RunStatus, Worker
from bakeoff.backends.inngest.auditor import AUDIT_EVENTS, register_auditor
from bakeoff.workload.auditor import AuditorConfig, run_local

STEP_LIMIT_TEXT = "The function run exceeded the step limit of {} steps."


def audit(app: Inngest, kind: str, config: AuditorConfig, timeout: float = 60, **extra: Any) -> Any:
    [event_id] = app.send(Event(name=AUDIT_EVENTS[kind], data={"config": config.to_dict(), **extra}))
    [run_id] = app.runs_for_event(event_id)
    return app.wait_for_run(run_id, timeout=timeout)


@pytest.fixture
def scaled(module_database_url: str) -> Iterator[Inngest]:
    """The seed's shape scaled down 1:16 (12 chunks x 4 plugins) with the step limit scaled to match (60)."""
    app = Inngest(app_id="auditor-scaled", database_url=module_database_url, limits=Limits(max_steps=60))
    register_auditor(app)
    yield app
    app.close()


def test_scaled_auditor_fails_the_step_limit_only_when_it_would_exceed_it(
    scaled: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """48 parallel plugin steps + split + synthesis (50) fit in 60; adding 12 routing steps (62) does not."""
    config = AuditorConfig(chunks=12, plugins=4)
    start_worker(app=scaled, concurrency=4)
    fits = audit(scaled, "parallel", config)
    assert fits.status is RunStatus.COMPLETED, fits.error
    assert fits.output["digest"] == run_local(config)["digest"]
    assert fits.step_count == 50
    over = audit(scaled, "parallel", config, route_steps=True)
    assert over.status is RunStatus.FAILED
    assert over.error is not None and over.error["message"] == STEP_LIMIT_TEXT.format(60)
    assert over.step_count == 13, "split and 12 routes ran; the 48-step plan was refused as a whole"


def test_scaled_auditor_batching_and_invoke_fan_out_collect_every_result(
    scaled: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """Batching, invoke fan-out/fan-in and event fan-out with wait_for_event fan-in: the same digest."""
    config = AuditorConfig(chunks=12, plugins=4)
    start_worker(app=scaled, concurrency=4)
    reference = run_local(config)
    batched = audit(scaled, "batched", config, route_steps=True, batch_size=4)
    assert batched.status is RunStatus.COMPLETED, batched.error
    assert (batched.output["digest"], batched.step_count) == (reference["digest"], 5)
    fanout = audit(scaled, "fanout", config)
    assert fanout.status is RunStatus.COMPLETED, fanout.error
    assert fanout.output["digest"] == reference["digest"]
    assert fanout.output["calls"] == 48 and fanout.step_count == 14
    events = audit(scaled, "events", config)
    assert events.status is RunStatus.COMPLETED, events.error
    assert events.output["digest"] == reference["digest"]
    assert events.step_count == 15, "split, dispatch, 12 waits, synthesis"


@pytest.mark.slow
def test_full_auditor_200_chunks_x_4_plugins_against_the_real_limit(
    module_database_url: str, start_worker: Callable[..., Worker]
) -> None:
    """Default limits: 800 parallel steps + split + synthesis succeed (802 < 1,000): the seed is wrong
    that 800 steps exceed the limit. With a routing step per chunk (1,002) the run fails with
    Inngest's text; batches of 50 (4 steps) succeed with the same digest."""
    app = Inngest(app_id="auditor-full", database_url=module_database_url)
    register_auditor(app)
    try:
        config = AuditorConfig(chunks=200, plugins=4)
        reference = run_local(config)["digest"]
        start_worker(app=app, concurrency=4)
        parallel = audit(app, "parallel", config, timeout=240)
        assert (parallel.status, parallel.step_count) == (RunStatus.COMPLETED, 802), parallel.error
        assert parallel.output["digest"] == reference
        over = audit(app, "parallel", config, timeout=120, route_steps=True)
        assert over.status is RunStatus.FAILED and over.error is not None
        assert over.error["message"] == STEP_LIMIT_TEXT.format(1000)
        batched = audit(app, "batched", config, timeout=120, route_steps=True, batch_size=50)
        assert (batched.status, batched.output["digest"]) == (RunStatus.COMPLETED, reference)
    finally:
        app.close()
