"""Functions written with Inngest's official TypeScript SDK (``inngest`` 3.x, pinned) on ``inngest serve``.

The Node app (``node/app.mjs``) uses ``step.run``, ``step.sleep``, ``step.waitForEvent``,
``step.invoke``, parallel ``Promise.all`` steps, ``NonRetriableError`` and ``inngest.send``; the
server syncs it by ``PUT`` as ``inngest dev -u`` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ts_node import serve_ts_app

from bakeoff.backends.inngest import Event, RunStatus
from bakeoff.backends.inngest.protocol import CallRequest
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app
from bakeoff.backends.inngest.server.signing import SigningKey, canonical_json
from bakeoff.backends.inngest.server.transport import request_body

pytestmark = pytest.mark.integration


@pytest.fixture
def ts_app(running_server, app_id) -> Iterator[str]:
    with serve_ts_app(app_id, running_server.url) as url:
        running_server.server.sync_app(url)
        yield url


def test_ts_steps_sleep_and_a_retried_step(ts_app, running_server, app_id):
    run = running_server.run_for(running_server.send(f"{app_id}/steps", {"n": 1}))
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"a": 2, "b": 20}
    assert [s.op for s in run.steps] == ["StepRun", "Sleep", "StepRun"]
    assert any(not a.ok for a in run.attempts)


def test_ts_wait_for_event_fulfilled_and_timed_out(ts_app, running_server, app_id):
    event_id = running_server.send(f"{app_id}/wait", {"id": 5})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        runs = running_server.server.client.runs_for_event(event_id)
        if runs and any(s.status == "waiting" for s in running_server.server.client.get_run(runs[0]).steps):
            break
        time.sleep(0.05)
    running_server.send(f"{app_id}/approved", {"id": 4, "by": "wrong"})
    running_server.send(f"{app_id}/approved", {"id": 5, "by": "bob"})
    run = running_server.run_for(event_id)
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"by": "bob", "none": None}


def test_ts_invoke_and_parallel_steps(ts_app, running_server, app_id):
    run = running_server.run_for(running_server.send(f"{app_id}/parent"))
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"doubled": 42, "results": ["X", "Y", "Z"]}


def test_ts_non_retriable_error_fails_without_retries(ts_app, running_server, app_id):
    run = running_server.run_for(running_server.send(f"{app_id}/fatal"))
    assert run.status is RunStatus.FAILED
    assert "no point retrying" in run.error["message"]
    assert len([a for a in run.attempts if a.step_key]) == 1


def test_ts_inngest_send_reaches_the_server(ts_app, running_server, app_id):
    run = running_server.run_for(running_server.send(f"{app_id}/send", {"tag": "ts"}))
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == 1
    client = running_server.server.client
    deadline = time.monotonic() + 15
    received: list[dict[str, object]] = []
    while time.monotonic() < deadline and not received:
        received = client.list_runs(fn_id=f"{app_id}-received", status="completed")
        time.sleep(0.05)
    assert received and client.get_run(str(received[0]["run_id"])).output == "received from ts"


def test_ts_v4_runs_two_steps_with_checkpointing_refused(running_server, app_id):
    """v4 checkpoints by default; the server offers no checkpointing, so it reports steps in 206s."""
    with serve_ts_app(app_id, running_server.url, project="node_v4") as url:
        running_server.server.sync_app(url)
        run = running_server.run_for(running_server.send(f"{app_id}/two", {"n": 4}))
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"first": 5, "second": 10}
    assert [(s.step_id, s.op, s.status) for s in run.steps] == [
        ("first", "StepRun", "completed"),
        ("second", "StepRun", "completed"),
    ]


def test_ts_production_mode_signed_both_ways(server_database_url, app_id):
    """The TS SDK in production mode verifies the server's signatures and signs its answers."""
    key = "signkey-test-" + "0f" * 32
    server = InngestServer(
        server_database_url,
        retry_interval=1,
        concurrency=2,
        poll_interval=0.2,
        signing_key=key,
        event_key="ek",
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    try:
        with serve_ts_app(app_id, http.url, signing_key=key, event_key="ek") as url:
            server.sync_app(url)
            [event_id] = server.send([Event(name=f"{app_id}/send", data={"tag": "prod"})])
            run = _wait_run(server, event_id)
            received = _wait_completed(server, f"{app_id}-received")
    finally:
        server.stop(timeout=10)
        http.stop()
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == 1
    assert received.output == "received from prod"


def _wait_run(server: InngestServer, event_id: str) -> Any:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        runs = server.client.runs_for_event(event_id)
        if runs:
            return server.client.wait_for_run(runs[0], timeout=20)
        time.sleep(0.05)
    raise AssertionError(f"no run for {event_id}")


def _wait_completed(server: InngestServer, fn_id: str) -> Any:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = server.client.list_runs(fn_id=fn_id, status="completed")
        if done:
            return server.client.get_run(str(done[0]["run_id"]))
        time.sleep(0.05)
    raise AssertionError(f"no completed run of {fn_id}")


def test_ts_sdk_refuses_a_stale_or_tampered_signature(app_id):
    """The TS SDK in production mode accepts our fresh signature, and refuses a stale or tampered one."""
    key = "signkey-test-" + "0f" * 32
    event = {"name": f"{app_id}/child", "data": {"n": 2}, "id": "e1", "ts": 1}
    request = CallRequest(event=event, events=[event], steps={}, run_id="r1", attempt=0, max_attempts=1)
    body = canonical_json(request_body(f"{app_id}-child", request))
    with (
        serve_ts_app(app_id, "http://127.0.0.1:9", signing_key=key, event_key="ek") as url,
        httpx.Client() as web,
    ):

        def post(content: bytes, signature: str) -> httpx.Response:
            headers = {"content-type": "application/json", "x-inngest-signature": signature}
            return web.post(f"{url}?fnId={app_id}-child&stepId=step", content=content, headers=headers)

        fresh = post(body, SigningKey(key).sign(body))
        stale = post(body, SigningKey(key).sign(body, now=time.time() - 600))
        tampered = post(body.replace(b'"n":2', b'"n":3'), SigningKey(key).sign(body))
    assert (fresh.status_code, fresh.json()) == (200, 4)
    # Same key and body as the fresh one: only the timestamp (10 min old) or the body differs.
    assert (stale.status_code, tampered.status_code) == (401, 401)
