"""``bakeoff inngest serve``: syncing apps and taking events, with good and bad input.

A re-sync replaces the app's functions; ``GET /dev`` lists them; a malformed register payload or
event is refused with 400 and a message naming what was wrong, and nothing of it is stored.
"""

from __future__ import annotations

import copy
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest

from bakeoff.backends.inngest import RunStatus
from bakeoff.backends.inngest.server import BackgroundServer

pytestmark = pytest.mark.integration


def _register_payload(app_id: str, url: str = "http://127.0.0.1:9/api/inngest") -> dict[str, Any]:
    """A register payload in the Python SDK's shape (``appname``, one function)."""
    return {
        "appname": app_id,
        "deployType": "ping",
        "framework": "fast_api",
        "sdk": "py:v0.5.19",
        "url": url,
        "v": "0.1",
        "functions": [
            {
                "id": f"{app_id}-fn",
                "name": "fn",
                "triggers": [{"event": f"{app_id}/go"}],
                "steps": {
                    "step": {
                        "id": "step",
                        "name": "step",
                        "retries": {"attempts": 2},
                        "runtime": {"type": "http", "url": f"{url}?fnId={app_id}-fn&stepId=step"},
                    }
                },
            }
        ],
    }


def test_resync_replaces_the_apps_functions(sdk_client, serve_app, running_server, app_id):
    """Syncing the app again without a function removes it: its event then starts nothing."""

    @sdk_client.create_function(fn_id="kept", trigger=inngest.TriggerEvent(event=f"{app_id}/kept"))
    def kept(ctx: inngest.ContextSync) -> str:
        return "kept"

    @sdk_client.create_function(fn_id="dropped", trigger=inngest.TriggerEvent(event=f"{app_id}/dropped"))
    def dropped(ctx: inngest.ContextSync) -> str:
        return "dropped"

    serve_app([kept, dropped])
    listed = httpx.get(f"{running_server.url}/dev").json()
    assert {f["id"] for f in listed["functions"]} >= {f"{app_id}-kept", f"{app_id}-dropped"}

    serve_app([kept])
    listed = httpx.get(f"{running_server.url}/dev").json()
    [app] = [a for a in listed["apps"] if a["id"] == app_id]
    assert app["functions"] == [f"{app_id}-kept"]

    gone = running_server.send(f"{app_id}/dropped")
    run = running_server.run_for(running_server.send(f"{app_id}/kept"))
    assert run.output == "kept"
    assert running_server.server.client.runs_for_event(gone) == []


def test_register_answers_ok_and_says_whether_anything_changed(running_server, app_id):
    """``POST /fn/register`` as the SDKs send it: ``{ok, modified}``; the same payload again is unmodified."""
    payload = _register_payload(app_id)
    first = httpx.post(f"{running_server.url}/fn/register", json=payload)
    again = httpx.post(f"{running_server.url}/fn/register", json=payload)
    payload["appName"] = payload.pop("appname")  # the TypeScript SDK's spelling
    payload["functions"][0]["triggers"][0]["expression"] = "event.data.ok == true"
    changed = httpx.post(f"{running_server.url}/fn/register", json=payload)

    assert (first.status_code, first.json()) == (200, {"ok": True, "modified": True})
    assert again.json() == {"ok": True, "modified": False}
    assert changed.json() == {"ok": True, "modified": True}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda p: p.pop("appname"), "appname"),
        (lambda p: p.update(functions=[]), "functions must be a non-empty list"),
        (lambda p: p["functions"][0].update(triggers=[]), "triggers must be a non-empty list"),
        (lambda p: p["functions"][0].update(triggers=[{"event": "a/*"}]), "wildcard"),
        (lambda p: p["functions"][0].update(triggers=[{"cron": "not a cron"}]), "cron"),
        (
            lambda p: p["functions"][0].update(triggers=[{"event": "e", "expression": "event.data ==="}]),
            "expression",
        ),
        (lambda p: p["functions"][0].update(batchEvents={"maxSize": 10, "timeout": "1s"}), "batchEvents"),
        (lambda p: p["functions"][0].update(priority={"run": "1"}), "priority"),
        (lambda p: p["functions"][0].update(timeouts={"finish": "1m"}), "timeouts"),
        (lambda p: p["functions"][0].update(concurrency=[{"limit": 1, "scope": "account"}]), "scope"),
        (lambda p: p["functions"][0].update(throttle={"limit": 1, "period": "soon"}), "throttle.period"),
        (lambda p: p["functions"][0]["steps"]["step"].update(retries={"attempts": 21}), "retries"),
        (lambda p: p["functions"][0]["steps"]["step"]["runtime"].update(type="ws"), "Connect"),
        (lambda p: p["functions"][0].update(steps={}), "steps"),
        (lambda p: p.update(functions=[p["functions"][0], p["functions"][0]]), "appears twice"),
    ],
)
def test_malformed_register_payload_is_refused_naming_the_problem(running_server, app_id, change, named):
    """Each broken payload gets 400 with ``error`` naming the option; nothing is registered."""
    payload = copy.deepcopy(_register_payload(app_id))
    change(payload)
    response = httpx.post(f"{running_server.url}/fn/register", json=payload)

    assert response.status_code == 400
    assert named in response.json()["error"]
    assert all(a["id"] != app_id for a in httpx.get(f"{running_server.url}/dev").json()["apps"])


def test_register_body_that_is_not_json_is_refused(running_server):
    response = httpx.post(f"{running_server.url}/fn/register", content=b"<html>nope</html>")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_events_endpoint_returns_one_id_per_event(running_server, app_id):
    """``POST /e/{key}`` takes an object or a list and answers ``{ids, status}``."""
    one = httpx.post(f"{running_server.url}/e/any-key", json={"name": f"{app_id}/a", "data": {"x": 1}})
    many = httpx.post(
        f"{running_server.url}/e/any-key",
        json=[{"name": f"{app_id}/a"}, {"name": f"{app_id}/b", "data": None}],
    )

    assert one.status_code == 200 and one.json()["status"] == 200 and len(one.json()["ids"]) == 1
    assert len(many.json()["ids"]) == 2 and len(set(many.json()["ids"])) == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "no event"),
        (b'{"data": {}}', "'name'"),
        (b'{"name": ""}', "'name'"),
        (b'{"name": "x", "data": [1]}', "'data' must be an object"),
        (b'{"name": "x", "id": 5}', "'id'"),
        (b'{"name": "x", "ts": "yesterday"}', "'ts'"),
        (b'[{"name": "ok"}, 3]', "event 1"),
    ],
)
def test_bad_event_payload_is_refused_and_nothing_is_stored(running_server, app_id, body, named):
    """400 with ``error`` naming the bad field; a list with one bad event stores none of them."""
    marker = f"{app_id}/stored"
    raw = body.replace(b'"ok"', f'"{marker}"'.encode())
    response = httpx.post(f"{running_server.url}/e/k", content=raw)

    assert response.status_code == 400
    assert named in response.json()["error"]
    with running_server.server.client.connection() as conn:
        stored = conn.execute("SELECT count(*) FROM inngest.events WHERE name = %s", (marker,)).fetchone()
    assert stored == (0,)


def test_event_id_deduplicates_for_a_day(sdk_client, serve_app, running_server, app_id):
    """An event whose ``id`` was seen within 24 h is stored but starts nothing."""

    @sdk_client.create_function(fn_id="once", trigger=inngest.TriggerEvent(event=f"{app_id}/once"))
    def once(ctx: inngest.ContextSync) -> str:
        return "ran"

    serve_app([once])
    first = running_server.send(f"{app_id}/once", id="order-1")
    second = running_server.send(f"{app_id}/once", id="order-1")

    assert first == second == "order-1"
    assert len(running_server.server.client.runs_for_event("order-1")) == 1
    assert running_server.run_for(first).status is RunStatus.COMPLETED


def test_sdk_client_send_reaches_the_server(sdk_client, serve_app, running_server, app_id):
    """The official SDK's ``send_sync`` (event key in dev mode, seed header) triggers functions."""

    @sdk_client.create_function(fn_id="hello", trigger=inngest.TriggerEvent(event=f"{app_id}/hello"))
    def hello(ctx: inngest.ContextSync) -> str:
        return f"hello {ctx.event.data['who']}"

    serve_app([hello])
    [event_id] = sdk_client.send_sync(inngest.Event(name=f"{app_id}/hello", data={"who": "sdk"}))

    assert running_server.run_for(event_id).output == "hello sdk"


def test_sync_of_an_unreachable_app_fails_clearly(running_server):
    from bakeoff.backends.inngest.server import SyncFailed

    with pytest.raises(SyncFailed, match="could not reach the app"):
        running_server.server.sync_app("http://127.0.0.1:9/api/inngest", timeout=2)


def test_sdk_app_registering_itself_in_dev_mode(running_server, app_id):
    """A second SDK app can sync against the same server; both apps' functions stay registered."""
    client = inngest.Inngest(
        app_id=f"{app_id}-other", api_base_url=running_server.url, event_api_base_url=running_server.url,
        is_production=False,
    )  # fmt: skip

    @client.create_function(fn_id="f", trigger=inngest.TriggerEvent(event=f"{app_id}/other"))
    def f(ctx: inngest.ContextSync) -> int:
        return 1

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [f])
    with BackgroundServer(app) as http:
        running_server.server.sync_app(f"{http.url}/api/inngest")
        run = running_server.run_for(running_server.send(f"{app_id}/other"))
    assert run.output == 1
