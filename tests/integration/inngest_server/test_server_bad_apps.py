"""Apps that answer badly: ``inngest serve`` turns each into a retry, then a clear run error.

An app that answers HTML, garbage, a bare 5xx, a malformed or refused step op, nothing before
the step timeout, or does not know the function id: every run ends (nothing is left hanging),
its attempts are recorded, its error says what came back, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bakeoff.backends.inngest import Event, RunStatus
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app

pytestmark = pytest.mark.integration


async def _bad(request: Request) -> Response:
    mode = request.query_params["mode"]
    if mode == "html":
        return Response("<html><body>Welcome to nginx</body></html>", media_type="text/html")
    if mode == "garbage":
        return Response(b"\x00\x01 not json", status_code=206, media_type="application/json")
    if mode == "bare-502":
        return PlainTextResponse("Bad Gateway", status_code=502)
    if mode == "bad-op":
        return JSONResponse([{"op": "Sleep", "id": "abc", "name": "whenever"}], status_code=206)
    if mode == "ai-gateway":
        return JSONResponse([{"op": "AIGateway", "id": "abc", "name": "infer"}], status_code=206)
    if mode == "hang":
        await asyncio.sleep(2)  # past the 1 s step timeout
    return JSONResponse({"ok": True})


@pytest.fixture
def bad_app() -> Iterator[str]:
    with BackgroundServer(Starlette(routes=[Route("/api/inngest", _bad, methods=["POST"])])) as http:
        yield f"{http.url}/api/inngest"


@pytest.fixture
def impatient_server(server_database_url: str) -> Iterator[tuple[InngestServer, str]]:
    """A server whose calls time out after 1 s, retrying every 1 s."""
    server = InngestServer(
        server_database_url, retry_interval=1, concurrency=4, poll_interval=0.2, step_timeout=1
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    yield server, http.url
    server.stop(timeout=10)
    http.stop()


def _register(url: str, app_id: str, app_url: str, modes: list[str]) -> None:
    functions = [
        {
            "id": f"{app_id}-{mode}",
            "name": mode,
            "triggers": [{"event": f"{app_id}/{mode}"}],
            "steps": {
                "step": {
                    "id": "step",
                    "name": "step",
                    "retries": {"attempts": 1},
                    "runtime": {"type": "http", "url": f"{app_url}?mode={mode}"},
                }
            },
        }
        for mode in modes
    ]
    payload = {"appname": app_id, "url": app_url, "functions": functions, "sdk": "test", "v": "0.1"}
    response = httpx.post(f"{url}/fn/register", json=payload)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("mode", "attempts", "message"),
    [
        ("html", 2, "not JSON (text/html"),
        ("garbage", 2, "not JSON"),
        ("bare-502", 2, "answered 502"),
        ("bad-op", 2, "malformed step op"),
        ("hang", 2, "did not answer within 1 s"),
        ("ai-gateway", 1, "AI gateway"),
    ],
)
def test_bad_answer_is_retried_then_fails_the_run_clearly(
    impatient_server, bad_app, app_id, mode, attempts, message
):
    server, url = impatient_server
    _register(url, app_id, bad_app, [mode])
    [event_id] = server.send([Event(name=f"{app_id}/{mode}")])
    run = server.client.wait_for_run(_run_id(server, event_id), timeout=20)

    assert run.status is RunStatus.FAILED
    assert message in run.error["message"], run.error
    assert len(run.attempts) == attempts
    assert httpx.get(f"{url}/dev").status_code == 200


def test_unknown_function_id_at_the_app_fails_the_run_and_the_server_stays_up(impatient_server, app_id):
    """A function the server has but the app does not (a stale sync): the SDK's 500 is the run error."""
    server, url = impatient_server
    client = inngest.Inngest(app_id=app_id, api_base_url=url, event_api_base_url=url, is_production=False)

    @client.create_function(fn_id="real", trigger=inngest.TriggerEvent(event=f"{app_id}/real"))
    def real(ctx: inngest.ContextSync) -> str:
        return "real"

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [real])
    with BackgroundServer(app) as http:
        app_url = f"{http.url}/api/inngest"
        _register(url, app_id, app_url, ["ghost"])
        [ghost] = server.send([Event(name=f"{app_id}/ghost")])
        failed = server.client.wait_for_run(_run_id(server, ghost), timeout=20)
        server.sync_app(app_url)
        [good] = server.send([Event(name=f"{app_id}/real")])
        ok = server.client.wait_for_run(_run_id(server, good), timeout=20)

    assert failed.status is RunStatus.FAILED
    assert "not found" in failed.error["message"], failed.error
    assert ok.output == "real"


def _run_id(server: InngestServer, event_id: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = server.client.runs_for_event(event_id)
        if runs:
            return runs[0]
        time.sleep(0.02)
    raise AssertionError(f"no run for {event_id}")
