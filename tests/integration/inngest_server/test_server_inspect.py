"""Run inspection on ``bakeoff inngest serve``: ``/v0/gql``, the ``use_api`` run API, and the CLI.

The GraphQL queries are the ones Inngest's own SDK test helpers send to the dev server; the run
API is what the SDK fetches when a call request says ``use_api``; and runs synced over HTTP show
up in ``bakeoff inngest runs`` / ``bakeoff inngest run ID`` from a real ``bakeoff inngest serve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest

from bakeoff.backends.inngest import RunStatus
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app
from bakeoff.testing import free_port

pytestmark = pytest.mark.integration

RUN_QUERY = """
query GetRun($run_id: String!) {
  run(runID: $run_id) { output status trace { childrenSpans { name outputID } } }
  runTrigger(runID: $run_id) { payloads }
}
"""
SPAN_QUERY = """
query GetOutput($output_id: String!) {
  runTraceSpanOutputByID(outputID: $output_id) { data error { message name stack } }
}
"""
EVENT_QUERY = """
query GetRunFromEventID($event_id: ID!) { event(query: {eventId: $event_id}) { functionRuns { id } } }
"""


def _gql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/v0/gql", json={"query": query, "variables": variables})
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


def test_gql_answers_the_dev_servers_inspection_queries(sdk_client, serve_app, running_server, app_id):
    """run/runTrigger/runTraceSpanOutputByID/event in the dev server's shapes, for a finished run."""

    @sdk_client.create_function(
        fn_id="inspect", trigger=inngest.TriggerEvent(event=f"{app_id}/go"), retries=0
    )
    def inspected(ctx: inngest.ContextSync) -> str:
        ctx.step.run("fine", lambda: {"n": 1})
        with contextlib.suppress(inngest.StepError):
            ctx.step.run("broken", _raise_value_error)
        return "done"

    serve_app([inspected])
    event_id = running_server.send(f"{app_id}/go", {"who": "gql"})
    run = running_server.run_for(event_id)

    data = _gql(running_server.url, RUN_QUERY, run_id=run.run_id)
    assert data["run"]["status"] == "COMPLETED"
    assert json.loads(data["run"]["output"]) == "done"
    spans = {s["name"]: s["outputID"] for s in data["run"]["trace"]["childrenSpans"]}
    assert set(spans) == {"fine", "broken"}
    trigger = json.loads(data["runTrigger"]["payloads"][0])
    assert (trigger["name"], trigger["data"], trigger["id"]) == (f"{app_id}/go", {"who": "gql"}, event_id)

    fine = _gql(running_server.url, SPAN_QUERY, output_id=spans["fine"])["runTraceSpanOutputByID"]
    broken = _gql(running_server.url, SPAN_QUERY, output_id=spans["broken"])["runTraceSpanOutputByID"]
    assert (json.loads(fine["data"]), fine["error"]) == ({"n": 1}, None)
    assert broken["data"] is None
    assert (broken["error"]["name"], broken["error"]["message"]) == ("ValueError", "bad value")

    runs = _gql(running_server.url, EVENT_QUERY, event_id=event_id)["event"]["functionRuns"]
    assert runs == [{"id": run.run_id}]


def _raise_value_error() -> None:
    raise ValueError("bad value")


def test_gql_reports_failed_runs_and_unknown_ids(sdk_client, serve_app, running_server, app_id):
    """A failed run is FAILED with its error as output; an unknown or malformed run id is null."""

    @sdk_client.create_function(fn_id="fails", trigger=inngest.TriggerEvent(event=f"{app_id}/f"), retries=0)
    def fails(ctx: inngest.ContextSync) -> None:
        raise inngest.NonRetriableError("nope")

    serve_app([fails])
    run = running_server.run_for(running_server.send(f"{app_id}/f"))
    data = _gql(running_server.url, RUN_QUERY, run_id=run.run_id)

    assert data["run"]["status"] == "FAILED"
    assert json.loads(data["run"]["output"])["message"] == "nope"
    assert _gql(running_server.url, RUN_QUERY, run_id="not-a-uuid") == {"run": None, "runTrigger": None}
    missing = _gql(running_server.url, RUN_QUERY, run_id="00000000-0000-0000-0000-000000000000")
    assert missing["run"] is None


def test_gql_refuses_a_malformed_query(running_server):
    response = httpx.post(f"{running_server.url}/v0/gql", json={"query": "{ run(runID: ) }"})
    assert "errors" in response.json()


def test_sdk_fetches_memo_and_events_through_the_run_api_when_told_to(server_database_url, app_id):
    """With every call request over the inline limit, the SDK gets ``use_api`` and fetches the run API."""
    server = InngestServer(
        server_database_url, retry_interval=1, concurrency=2, poll_interval=0.2, inline_limit=1
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    client = inngest.Inngest(
        app_id=app_id, api_base_url=http.url, event_api_base_url=http.url, is_production=False
    )  # fmt: skip

    @client.create_function(fn_id="big", trigger=inngest.TriggerEvent(event=f"{app_id}/big"))
    def big(ctx: inngest.ContextSync) -> list[Any]:
        a = ctx.step.run("a", lambda: "x" * 100)
        b = ctx.step.run("b", lambda: len(a))
        return [b, ctx.event.data["k"], len(ctx.events)]

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [big])
    try:
        with BackgroundServer(app) as sdk_http:
            server.sync_app(f"{sdk_http.url}/api/inngest")
            [event_id] = server.send([_event(f"{app_id}/big", {"k": "v"})])
            run = server.client.wait_for_run(_first_run(server, event_id), timeout=20)
            actions = httpx.get(f"{http.url}/v0/runs/{run.run_id}/actions").json()
            batch = httpx.get(f"{http.url}/v0/runs/{run.run_id}/batch").json()
            unknown = httpx.get(f"{http.url}/v0/runs/00000000-0000-0000-0000-000000000000/batch")
    finally:
        server.stop(timeout=10)
        http.stop()

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == [100, "v", 1]
    assert sorted(json.dumps(v["data"]) for v in actions.values()) == sorted(["100", json.dumps("x" * 100)])
    assert [e["name"] for e in batch] == [f"{app_id}/big"]
    assert unknown.status_code == 404 and "no run" in unknown.json()["error"]


def _event(name: str, data: dict[str, Any]) -> Any:
    from bakeoff.backends.inngest import Event

    return Event(name=name, data=data)


def _first_run(server: InngestServer, event_id: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = server.client.runs_for_event(event_id)
        if runs:
            return runs[0]
        time.sleep(0.02)
    raise AssertionError(f"no run for {event_id}")


def test_cli_serve_syncs_with_u_and_runs_show_in_inngest_runs(server_database_url, app_id):
    """``bakeoff inngest serve -u URL`` (a subprocess) runs the app; ``inngest runs``/``run`` show it."""
    port = free_port()
    server_url = f"http://127.0.0.1:{port}"
    client = inngest.Inngest(
        app_id=app_id, api_base_url=server_url, event_api_base_url=server_url, is_production=False
    )  # fmt: skip

    @client.create_function(fn_id="cli", trigger=inngest.TriggerEvent(event=f"{app_id}/cli"))
    def cli_fn(ctx: inngest.ContextSync) -> str:
        return ctx.step.run("greet", lambda: f"hi {ctx.event.data['who']}")

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [cli_fn])
    env = {**os.environ, "BAKEOFF_DATABASE_URL": server_database_url, "COLUMNS": "250"}
    bakeoff = [sys.executable, "-m", "bakeoff"]
    with BackgroundServer(app) as sdk_http:
        serve = subprocess.Popen(
            [*bakeoff, "inngest", "serve", "--port", str(port), "--retry-interval", "1", "-u",
             f"{sdk_http.url}/api/inngest"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_synced(server_url, app_id, serve)
            event = httpx.post(f"{server_url}/e/key", json={"name": f"{app_id}/cli", "data": {"who": "cli"}})
            event_id = event.json()["ids"][0]
            runs = _wait_for_gql_run(server_url, event_id)
        finally:
            serve.terminate()
            _out, err = serve.communicate(timeout=30)
    listed = subprocess.run(
        [*bakeoff, "inngest", "runs", "--fn", f"{app_id}-cli"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    shown = subprocess.run(
        [*bakeoff, "inngest", "run", runs[0]], env=env, capture_output=True, text=True, check=True
    )

    assert "dev mode: no signing key or event key needed" in err
    assert runs[0] in listed.stdout and "completed" in listed.stdout
    assert "hi cli" in shown.stdout and "greet" in shown.stdout


def test_cli_serve_on_port_0_announces_the_port_it_listens_on(server_database_url):
    """``--port 0``: the address printed is the one served (bound before it is printed)."""
    env = {**os.environ, "BAKEOFF_DATABASE_URL": server_database_url, "COLUMNS": "250"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "inngest", "serve", "--port", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stderr is not None
        first_line = serve.stderr.readline()
        announced = re.search(r"serve on (http://127\.0\.0\.1:(\d+))", first_line)
        assert announced is not None, first_line
        assert int(announced.group(2)) != 0
        answer = httpx.get(f"{announced.group(1)}/dev", timeout=30)
    finally:
        serve.terminate()
        serve.communicate(timeout=30)
    assert answer.status_code == 200 and "apps" in answer.json()


def test_cli_serve_on_a_port_in_use_says_so_and_announces_nothing(server_database_url):
    env = {**os.environ, "BAKEOFF_DATABASE_URL": server_database_url, "COLUMNS": "250"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [sys.executable, "-m", "bakeoff", "inngest", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stderr
    assert "serve on" not in refused.stderr


def _wait_synced(server_url: str, app_id: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            apps = httpx.get(f"{server_url}/dev").json()["apps"]
            if any(a["id"] == app_id for a in apps):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the app never synced")


def _wait_for_gql_run(server_url: str, event_id: str) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs = _gql(server_url, EVENT_QUERY, event_id=event_id)["event"]["functionRuns"]
        if runs:
            data = _gql(server_url, RUN_QUERY, run_id=runs[0]["id"])
            if data["run"]["status"] == "COMPLETED":
                return [r["id"] for r in runs]
        time.sleep(0.1)
    raise AssertionError("the run never completed")
