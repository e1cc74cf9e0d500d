"""Production mode: signed both ways, keys checked, and refusals of what the server does not offer.

With a signing key the server signs call requests (the official SDK in production mode verifies
them), verifies the app's signed answers, and requires the key's bearer token on SDK calls; with
an event key, only that key may send events. A tampered body, a wrong key or a stale timestamp is
refused on each side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakeoff.backends.inngest import Event, RunStatus
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app
from bakeoff.backends.inngest.server.signing import SigningKey, canonical_json

pytestmark = pytest.mark.integration

KEY = "signkey-test-" + "ab12" * 16
OTHER_KEY = "signkey-test-" + "cd34" * 16
EVENT_KEY = "event-key-123"


@pytest.fixture
def prod_server(server_database_url: str) -> Iterator[tuple[InngestServer, str]]:
    server = InngestServer(
        server_database_url,
        retry_interval=1,
        concurrency=2,
        poll_interval=0.2,
        signing_key=KEY,
        event_key=EVENT_KEY,
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    yield server, http.url
    server.stop(timeout=10)
    http.stop()


def _prod_client(app_id: str, url: str, key: str = KEY) -> inngest.Inngest:
    return inngest.Inngest(
        app_id=app_id, api_base_url=url, event_api_base_url=url, is_production=True, signing_key=key,
        event_key=EVENT_KEY,
    )  # fmt: skip


def _run(server: InngestServer, event_id: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = server.client.runs_for_event(event_id)
        if runs:
            return server.client.wait_for_run(runs[0], timeout=timeout)
        time.sleep(0.02)
    raise AssertionError(f"no run for {event_id}")


def test_production_sdk_app_runs_signed_both_ways(prod_server, app_id):
    """The official SDK in production mode syncs (bearer), sends (event key) and runs (signatures)."""
    server, url = prod_server
    client = _prod_client(app_id, url)

    @client.create_function(fn_id="signed", trigger=inngest.TriggerEvent(event=f"{app_id}/signed"))
    def signed(ctx: inngest.ContextSync) -> str:
        return ctx.step.run("s", lambda: f"hi {ctx.event.data['n']}")

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [signed])
    with BackgroundServer(app) as http:
        server.sync_app(f"{http.url}/api/inngest")
        [event_id] = client.send_sync(inngest.Event(name=f"{app_id}/signed", data={"n": 1.0}))
        run = _run(server, event_id)

    assert run.status is RunStatus.COMPLETED, run.error
    # Signed bodies are canonical JSON (RFC 8785), where 1.0 is written 1, as Inngest's Go server does.
    assert run.output == "hi 1"


def test_server_signed_with_another_key_is_refused_by_the_sdk(server_database_url, app_id):
    """The app holds a different key: the SDK answers 401 to every call and the run fails clearly."""
    server = InngestServer(
        server_database_url, retry_interval=1, concurrency=2, poll_interval=0.2, signing_key=KEY
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    client = _prod_client(app_id, http.url, key=OTHER_KEY)

    @client.create_function(fn_id="f", trigger=inngest.TriggerEvent(event=f"{app_id}/f"), retries=0)
    def f(ctx: inngest.ContextSync) -> int:
        return 1

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [f])
    try:
        with BackgroundServer(app) as sdk_http:
            _register(
                http.url, app_id, f"{sdk_http.url}/api/inngest", fn_id=f"{app_id}-f", event=f"{app_id}/f"
            )
            [event_id] = server.send([Event(name=f"{app_id}/f")])
            run = _run(server, event_id)
    finally:
        server.stop(timeout=10)
        http.stop()
    assert run.status is RunStatus.FAILED
    assert "Unauthorized" in run.error["message"] or "401" in run.error["message"], run.error


def _register(
    url: str, app_id: str, app_url: str, *, fn_id: str, event: str, key: str = KEY
) -> httpx.Response:
    payload = {
        "appname": app_id,
        "url": app_url,
        "sdk": "test",
        "v": "0.1",
        "functions": [
            {
                "id": fn_id,
                "name": fn_id,
                "triggers": [{"event": event}],
                "steps": {
                    "step": {
                        "id": "step",
                        "name": "step",
                        "retries": {"attempts": 0},
                        "runtime": {"type": "http", "url": f"{app_url}?fnId={fn_id}&stepId=step"},
                    }
                },
            }
        ],
    }
    headers = {"authorization": f"Bearer {SigningKey(key).bearer}"}
    response = httpx.post(f"{url}/fn/register", json=payload, headers=headers)
    response.raise_for_status()
    return response


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("unsigned", "no X-Inngest-Signature"),
        ("other-key", "does not match"),
        ("tampered", "does not match"),
        ("stale", "s old"),
    ],
)
def test_app_answers_without_a_valid_signature_are_refused(prod_server, app_id, answer, problem):
    """The server verifies the app's answer: unsigned, wrong key, tampered body, stale timestamp."""
    server, url = prod_server

    async def app_endpoint(request: Request) -> Response:
        body = json.dumps("output").encode()
        now = time.time() - (600 if answer == "stale" else 0)
        key = SigningKey(OTHER_KEY if answer == "other-key" else KEY)
        headers = {"x-inngest-sdk": "test:v1"}
        if answer != "unsigned":
            headers["x-inngest-signature"] = key.sign(body, now=now)
        sent = json.dumps("tampered").encode() if answer == "tampered" else body
        return Response(sent, media_type="application/json", headers=headers)

    with BackgroundServer(Starlette(routes=[Route("/api", app_endpoint, methods=["POST"])])) as http:
        _register(url, app_id, f"{http.url}/api", fn_id=f"{app_id}-x", event=f"{app_id}/x")
        [event_id] = server.send([Event(name=f"{app_id}/x")])
        run = _run(server, event_id)

    assert run.status is RunStatus.FAILED
    assert run.error["name"] == "InvalidSignature" and problem in run.error["message"], run.error


def test_server_requests_are_signed_over_the_canonical_body(prod_server, app_id):
    """What the SDK verifies: HMAC of the RFC 8785 body plus t; a tampered copy does not verify."""
    server, url = prod_server
    seen: list[tuple[bytes, str]] = []

    async def app_endpoint(request: Request) -> Response:
        seen.append((await request.body(), request.headers.get("x-inngest-signature", "")))
        body = json.dumps("ok").encode()
        return Response(
            body, media_type="application/json", headers={"x-inngest-signature": SigningKey(KEY).sign(body)}
        )

    with BackgroundServer(Starlette(routes=[Route("/api", app_endpoint, methods=["POST"])])) as http:
        _register(url, app_id, f"{http.url}/api", fn_id=f"{app_id}-c", event=f"{app_id}/c")
        [event_id] = server.send([Event(name=f"{app_id}/c", data={"b": 1, "a": [1.0, "é"]})])
        assert _run(server, event_id).output == "ok"

    body, signature = seen[0]
    key = SigningKey(KEY)
    assert body == canonical_json(json.loads(body))
    assert key.problem(body, signature) is None
    assert (
        key.problem(body.replace(b'"b":1', b'"b":2'), signature) == "a signature that does not match the body"
    )
    assert SigningKey(OTHER_KEY).problem(body, signature) == "a signature that does not match the body"


def test_sdk_calls_and_events_need_the_keys(prod_server, app_id):
    """Register, the run API and /v0/gql need the bearer; /e needs the event key."""
    _server, url = prod_server
    bad_bearer = {"authorization": f"Bearer {SigningKey(OTHER_KEY).bearer}"}

    assert httpx.post(f"{url}/fn/register", json={}).status_code == 401
    assert httpx.post(f"{url}/fn/register", json={}, headers=bad_bearer).status_code == 401
    assert httpx.get(f"{url}/v0/runs/00000000-0000-0000-0000-000000000000/batch").status_code == 401
    assert httpx.post(f"{url}/v0/gql", json={"query": "{ __typename }"}).status_code == 401
    good = {"authorization": f"Bearer {SigningKey(KEY).bearer}"}
    assert httpx.post(f"{url}/v0/gql", json={"query": "{ __typename }"}, headers=good).status_code == 200
    assert httpx.post(f"{url}/e/wrong-key", json={"name": f"{app_id}/e"}).status_code == 401
    assert httpx.post(f"{url}/e/{EVENT_KEY}", json={"name": f"{app_id}/e"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "feature"),
    [
        ("/v1/checkpoint", "checkpointing"),
        ("/v1/checkpoint/run/steps", "checkpointing"),
        ("/v0/connect/start", "Connect"),
        ("/v1/realtime/publish", "realtime"),
        ("/v1/signals", "signals"),
    ],
)
def test_out_of_scope_features_are_refused_by_name(running_server, path, feature):
    response = httpx.post(f"{running_server.url}{path}", json={})
    assert response.status_code == 501
    assert feature in response.json()["error"]


def test_a_signing_key_that_is_not_hex_is_refused():
    from bakeoff.contract import ConfigurationError

    with pytest.raises(ConfigurationError, match="signkey-<env>-<hex"):
        SigningKey("signkey-prod-not-hex")


def test_sync_of_an_app_with_another_key_fails_clearly(prod_server, app_id):
    """A register call with the wrong bearer is refused; ``sync_app`` says so though the SDK answers 200."""
    from bakeoff.backends.inngest.server import SyncFailed

    server, url = prod_server
    client = _prod_client(app_id, url, key=OTHER_KEY)

    @client.create_function(fn_id="f", trigger=inngest.TriggerEvent(event=f"{app_id}/f"))
    def f(ctx: inngest.ContextSync) -> int:
        return 1

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [f])
    with BackgroundServer(app) as http, pytest.raises(SyncFailed, match="did not register"):
        server.sync_app(f"{http.url}/api/inngest")
    assert all(a["id"] != app_id for a in server.describe()["apps"])


def test_sdk_refuses_a_tampered_or_wrongly_signed_request(app_id):
    """The official SDK in production mode checks our signature: intact 206, tampered or wrong key 401."""
    client = _prod_client(app_id, "http://127.0.0.1:9")

    @client.create_function(fn_id="f", trigger=inngest.TriggerEvent(event=f"{app_id}/f"))
    def f(ctx: inngest.ContextSync) -> str:
        return ctx.step.run("s", lambda: "ran")

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [f])
    event = {"name": f"{app_id}/f", "data": {}, "id": "e1", "ts": 1}
    ctx = {"run_id": "r1", "attempt": 0, "max_attempts": 1, "disable_immediate_execution": False,
           "use_api": False, "stack": {"stack": [], "current": 0}}  # fmt: skip
    body = canonical_json({"event": event, "events": [event], "steps": {}, "ctx": ctx, "use_api": False})
    with BackgroundServer(app) as http, httpx.Client() as web:
        target = f"{http.url}/api/inngest?fnId={app_id}-f&stepId=step"

        def post(content: bytes, signature: str) -> int:
            headers = {"content-type": "application/json", "x-inngest-signature": signature}
            return web.post(target, content=content, headers=headers).status_code

        intact = post(body, SigningKey(KEY).sign(body))
        tampered = post(body.replace(b'"r1"', b'"r2"'), SigningKey(KEY).sign(body))
        wrong_key = post(body, SigningKey(OTHER_KEY).sign(body))
    assert (intact, tampered, wrong_key) == (206, 401, 401)
