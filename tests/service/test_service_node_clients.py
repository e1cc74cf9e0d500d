"""The real Node clients: the OpenFeature server SDK with the OFREP provider, and the README's snippets.

The Node packages are pinned in tests/service/node (package.json + package-lock.json) and installed
with ``npm ci`` into the user cache on first use. The README's two TypeScript snippets are taken from
the README itself and run under the pinned Node 22 (which strips their types), so the text a reader
copies is the text that was tested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from service_support import ADMIN_TOKEN, API_TOKEN, EXPERIMENT, LiveServer
from sqlalchemy import Engine, text

from bakeoff.service import ServiceSettings
from bakeoff.testing.node import NodeRuntime, NodeRuntimeError, ensure_runtime

NODE_PROJECT = Path(__file__).parent / "node"
README = Path(__file__).parents[2] / "README.md"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def node_clients() -> NodeRuntime:
    try:
        return ensure_runtime(NODE_PROJECT, "service-node-clients")
    except NodeRuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def readme_snippet(first_line: str) -> str:
    """The README's ```ts block whose first line is ``first_line``."""
    blocks = re.findall(r"```ts\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    matching = [block for block in blocks if block.startswith(first_line)]
    assert len(matching) == 1, f"the README has {len(matching)} ts blocks starting {first_line!r}"
    return matching[0]


def test_the_openfeature_sdk_with_the_ofrep_provider_agrees_with_the_router_on_1000_keys(
    live: LiveServer, node_clients: NodeRuntime
) -> None:
    admin = f"{live.url}/v1/experiments/{EXPERIMENT}"
    assert httpx.post(f"{admin}/arms/pgboss/kill", headers=ADMIN).status_code == 200
    overrides = {f"user-{i}": ("inngest", "pgboss", "legacy")[i % 3] for i in range(0, 1000, 97)}
    for unit, arm in overrides.items():
        assert httpx.put(f"{admin}/overrides/{unit}", json={"arm": arm}, headers=ADMIN).status_code == 200
    keys = [f"user-{i}" for i in range(1000)]

    out = node_clients.run("ofrep_agree.mjs", {"baseUrl": live.url, "flag": EXPERIMENT, "keys": keys})

    router = live.service.router
    reasons = set()
    for evaluation in out["evaluations"]:
        key = evaluation["key"]
        assigned = overrides.get(key, router.assign(key))
        served = "legacy" if assigned == "pgboss" else assigned  # pgboss is killed: the control serves
        assert evaluation["errorCode"] is None, evaluation
        assert (evaluation["value"], evaluation["variant"]) == (served, served), evaluation
        assert evaluation["metadata"]["assignedArm"] == assigned and evaluation["metadata"]["phase"] == 1
        assert router.decide(key, overrides.get(key)).served_arm == served
        reasons.add(evaluation["reason"])
    assert len(out["evaluations"]) == 1000
    assert reasons == {"SPLIT", "TARGETING_MATCH", "DISABLED"}
    assert out["missingFlag"] == {"value": "default", "errorCode": "FLAG_NOT_FOUND", "reason": "ERROR"}
    assert out["missingKey"]["errorCode"] == "TARGETING_KEY_MISSING"


def test_the_readme_openfeature_snippet_runs_under_node(
    serve: Callable[..., LiveServer], node_clients: NodeRuntime
) -> None:
    live = serve(settings=ServiceSettings(admin_token=ADMIN_TOKEN, api_token=API_TOKEN))
    (node_clients.folder / "flags.ts").write_text(readme_snippet("// lib/flags.ts"), encoding="utf-8")
    keys = ["user-42", "user-1", "https://example.com/articles/1"]
    out = node_clients.run(
        "flags_snippet.mjs", {"keys": keys}, env={"BAKEOFF_URL": live.url, "BAKEOFF_API_TOKEN": API_TOKEN}
    )
    assert out == {key: live.service.router.assign(key) for key in keys}
    assert out == {"user-42": "pgboss", "user-1": "inngest", "https://example.com/articles/1": "legacy"}


def test_the_readme_fetch_snippet_routes_imports_under_node(
    serve: Callable[..., LiveServer], engine: Engine, node_clients: NodeRuntime
) -> None:
    live = serve(settings=ServiceSettings(admin_token=ADMIN_TOKEN, api_token=API_TOKEN))
    (node_clients.folder / "route.ts").write_text(
        readme_snippet("// app/api/imports/route.ts"), encoding="utf-8"
    )
    calls = [
        {"body": {"url": "https://example.com/a", "userId": "user-42"}, "idempotencyKey": "req-1"},
        {"body": {"url": "https://example.com/a", "userId": "user-42"}, "idempotencyKey": "req-1"},
        {"body": {"url": "not a url", "userId": "user-42"}, "idempotencyKey": "req-2"},
    ]
    out = node_clients.run(
        "route_snippet.mjs", {"calls": calls}, env={"BAKEOFF_URL": live.url, "BAKEOFF_API_TOKEN": API_TOKEN}
    )
    first, repeat, bad = out
    assert first["status"] == 202 and first["body"]["arm"] == "pgboss"
    assert repeat == first
    assert bad["status"] == 400 and "url" in bad["body"]["detail"]
    with engine.connect() as conn:
        jobs = conn.execute(
            text("SELECT trial_job_id, unit_key, idempotency_key FROM bakeoff.trial_jobs")
        ).all()
    assert [(str(j.trial_job_id), j.unit_key, j.idempotency_key) for j in jobs] == [
        (first["body"]["importId"], "user-42", "req-1")
    ]
