"""``bakeoff inngest serve`` (the real CLI, a subprocess) killed mid-run and restarted, and an app
that is down when its runs are due: runs resume from their memoized steps, nothing is lost.

The bad-answer cases (HTML, garbage, a bare 5xx, a bad op, no answer within the step timeout) are in
``tests/integration/inngest_server/test_server_bad_apps.py``; these are the two it lacks.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest

from bakeoff.backends.inngest import Inngest, RunStatus
from bakeoff.backends.inngest.server import BackgroundServer
from bakeoff.backends.inngest.server.core import SERVER_APP_ID
from bakeoff.testing import free_port, wait_for

RUNS = 6
NAP = timedelta(seconds=3)


@contextmanager
def _inngest_serve(database_url: str, port: int, app_url: str) -> Iterator[subprocess.Popen[str]]:
    """``bakeoff inngest serve --port PORT -u APP_URL --retry-interval 1`` until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "--database-url", database_url, "inngest", "serve",
         "--port", str(port), "-u", app_url, "--retry-interval", "1", "--concurrency", "4"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _synced(serve: subprocess.Popen[str], url: str, fn_id: str) -> bool:
    """Whether the server at ``url`` knows ``fn_id``; fails at once, with its stderr, if it exited."""
    if serve.poll() is not None:
        stderr = serve.stderr.read() if serve.stderr else ""
        raise AssertionError(f"bakeoff inngest serve exited with {serve.returncode}: {stderr[-2000:]}")
    try:
        return fn_id in httpx.get(f"{url}/dev", timeout=5).text
    except httpx.TransportError:
        return False


def _send(url: str, name: str, count: int) -> list[str]:
    events = [{"name": name, "data": {"n": n}} for n in range(count)]
    response = httpx.post(f"{url}/e/test-key", json=events, timeout=30)
    response.raise_for_status()
    return [str(i) for i in response.json()["ids"]]


def _runs(engine_client: Inngest, event_ids: list[str]) -> list[str]:
    found = [engine_client.runs_for_event(e) for e in event_ids]
    return [r[0] for r in found if r]


def _all_sleeping(engine_client: Inngest, event_ids: list[str]) -> bool:
    run_ids = _runs(engine_client, event_ids)
    if len(run_ids) < len(event_ids):
        return False
    return all(
        {"one", "nap"} <= {s.step_id for s in engine_client.get_run(r).steps if s.status != "running"}
        for r in run_ids
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_inngest_serve_sigkilled_mid_run_and_restarted_resumes_from_memoized_steps(database_url: str) -> None:
    """Six runs of `one` -> sleep 3 s -> `two`: the server is SIGKILLed once every run has `one`
    memoized and sleeps, then started again (it re-syncs the app with -u). Every run completes, `one`
    ran exactly once per run (memoized, not re-run after the restart) and `two` once per run."""
    app_id = f"restart-{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    executed: Counter[str] = Counter()
    lock = threading.Lock()

    def count(step: str, n: int) -> int:
        with lock:
            executed[step] += 1
        return n

    sdk = inngest.Inngest(
        app_id=app_id, api_base_url=url, event_api_base_url=url, is_production=False,
        logger=logging.getLogger("sdk-app"),
    )  # fmt: skip

    @sdk.create_function(fn_id="resume", trigger=inngest.TriggerEvent(event=f"{app_id}/go"))
    def resume(ctx: inngest.ContextSync) -> int:
        first = ctx.step.run("one", count, "one", int(ctx.event.data["n"]))
        ctx.step.sleep("nap", NAP)
        return ctx.step.run("two", count, "two", first)

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, sdk, [resume])
    engine_client = Inngest(app_id=SERVER_APP_ID, database_url=database_url)
    try:
        with BackgroundServer(app) as http:
            app_url = f"{http.url}/api/inngest"
            with _inngest_serve(database_url, port, app_url) as first:
                wait_for(
                    lambda: _synced(first, url, f"{app_id}-resume"),
                    "the app synced",
                    timeout=90,
                    interval=0.2,
                )
                event_ids = _send(url, f"{app_id}/go", RUNS)
                # Killed once every run has step one memoized and sleeps: no call is in flight, so
                # the restart resumes at once (a kill during a call waits out the 30 s step lease).
                wait_for(
                    lambda: _all_sleeping(engine_client, event_ids),
                    "every run asleep",
                    timeout=60,
                    interval=0.1,
                )
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
            killed_with = dict(executed)
            with _inngest_serve(database_url, port, app_url):
                run_ids = _runs(engine_client, event_ids)
                runs = [engine_client.wait_for_run(r, timeout=90) for r in run_ids]
    finally:
        engine_client.close()

    assert killed_with == {"one": RUNS}, "the kill came after step one and before step two of every run"
    assert len(runs) == RUNS
    assert [r.status for r in runs] == [RunStatus.COMPLETED] * RUNS
    assert sorted(r.output for r in runs) == list(range(RUNS))
    assert executed == Counter({"one": RUNS, "two": RUNS}), "a memoized step ran again after the restart"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_runs_due_while_the_app_is_down_are_retried_and_complete_when_it_returns(database_url: str) -> None:
    """The app is synced, then stops; events arrive: every call is refused (a retriable error naming
    the app), and once the app is back on its address every run completes; none is lost."""
    app_id = f"down-{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sdk = inngest.Inngest(
        app_id=app_id, api_base_url=url, event_api_base_url=url, is_production=False,
        logger=logging.getLogger("sdk-app"),
    )  # fmt: skip

    @sdk.create_function(fn_id="patient", trigger=inngest.TriggerEvent(event=f"{app_id}/go"), retries=10)
    def patient(ctx: inngest.ContextSync) -> int:
        return ctx.step.run("body", lambda: int(ctx.event.data["n"]) * 2)

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, sdk, [patient])
    engine_client = Inngest(app_id=SERVER_APP_ID, database_url=database_url)
    try:
        http = BackgroundServer(app).start()
        app_port = http.port
        app_url = f"{http.url}/api/inngest"
        with _inngest_serve(database_url, port, app_url) as serve:
            wait_for(
                lambda: _synced(serve, url, f"{app_id}-patient"), "the app synced", timeout=90, interval=0.2
            )
            http.stop()  # the app goes down
            event_ids = _send(url, f"{app_id}/go", RUNS)
            wait_for(
                lambda: (
                    len(run_ids := _runs(engine_client, event_ids)) == RUNS
                    and all(engine_client.get_run(r).attempts for r in run_ids)
                ),
                "a refused attempt on every run",
                timeout=60,
                interval=0.2,
            )
            refused = [engine_client.get_run(r) for r in _runs(engine_client, event_ids)]
            http = BackgroundServer(app, port=app_port).start()  # back on the same address
            try:
                runs = [engine_client.wait_for_run(r.run_id, timeout=90) for r in refused]
            finally:
                http.stop()
    finally:
        engine_client.close()

    assert all(r.status is RunStatus.RUNNING or r.status is RunStatus.QUEUED for r in refused), [
        r.status for r in refused
    ]
    errors = [a.error for r in refused for a in r.attempts if a.error]
    assert errors and all(str(app_port) in str(e) for e in errors), errors
    assert [r.status for r in runs] == [RunStatus.COMPLETED] * RUNS
    assert sorted(r.output for r in runs) == [2 * n for n in range(RUNS)]
