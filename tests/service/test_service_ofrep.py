"""OFREP over the experiment: evaluations agree with the Router, follow the protocol, and write nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from service_support import ADMIN_TOKEN, EXPERIMENT, LiveServer, counts
from sqlalchemy import Engine

from bakeoff.router import ExperimentStore
from bakeoff.service import ServiceSettings

SINGLE = f"/ofrep/v1/evaluate/flags/{EXPERIMENT}"
BULK = "/ofrep/v1/evaluate/flags"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
REASONS = {"hash": "SPLIT", "override": "TARGETING_MATCH"}


def evaluate(live: LiveServer, key: str) -> httpx.Response:
    return httpx.post(f"{live.url}{SINGLE}", json={"context": {"targetingKey": key}})


def test_single_evaluations_agree_with_the_router_including_overrides_and_a_killed_arm(
    live: LiveServer, engine: Engine
) -> None:
    admin = f"{live.url}/v1/experiments/{EXPERIMENT}"
    assert httpx.post(f"{admin}/arms/inngest/kill", headers=ADMIN).status_code == 200
    overrides = {"unit-1": "inngest", "unit-2": "pgboss", "unit-3": "legacy"}
    for unit, arm in overrides.items():
        assert httpx.put(f"{admin}/overrides/{unit}", json={"arm": arm}, headers=ADMIN).status_code == 200
    before = counts(engine)
    router = live.service.router
    seen_reasons = set()
    with httpx.Client(base_url=live.url) as client:
        for i in range(300):
            key = f"unit-{i}"
            body = client.post(SINGLE, json={"context": {"targetingKey": key, "plan": "pro"}}).json()
            decision = router.decide(key, overrides.get(key))
            assigned = overrides.get(key, router.assign(key))
            assert body["key"] == EXPERIMENT and body["value"] == body["variant"] == decision.served_arm
            assert body["metadata"] == {
                "experiment": EXPERIMENT,
                "phase": 1,
                "assignedArm": assigned,
                "assignmentReason": decision.reason,
            }
            expected_reason = "DISABLED" if assigned == "inngest" else REASONS[decision.reason]
            assert body["reason"] == expected_reason, (key, body)
            seen_reasons.add(body["reason"])
    assert seen_reasons == {"SPLIT", "TARGETING_MATCH", "DISABLED"}
    assert counts(engine) == before  # an evaluation writes no exposure, no job, nothing


def test_protocol_errors(live: LiveServer) -> None:
    unknown = httpx.post(f"{live.url}/ofrep/v1/evaluate/flags/other", json={"context": {"targetingKey": "u"}})
    assert unknown.status_code == 404
    assert unknown.json()["key"] == "other" and unknown.json()["errorCode"] == "FLAG_NOT_FOUND"
    for body in ({}, {"context": {}}, {"context": {"targetingKey": ""}}, {"context": {"plan": "pro"}}):
        missing = httpx.post(f"{live.url}{SINGLE}", json=body)
        assert missing.status_code == 400 and missing.json()["errorCode"] == "TARGETING_KEY_MISSING", body
    empty = httpx.post(f"{live.url}{SINGLE}")
    assert empty.status_code == 400 and empty.json()["errorCode"] == "TARGETING_KEY_MISSING"
    for body in (
        {"context": ["u"]},
        {"context": {"targetingKey": 42}},
        {"context": {"targetingKey": "k" * 600}},
    ):
        invalid = httpx.post(f"{live.url}{SINGLE}", json=body)
        assert invalid.status_code == 400 and invalid.json()["errorCode"] == "INVALID_CONTEXT", body
        assert invalid.json()["key"] == EXPERIMENT and invalid.json()["errorDetails"]
    garbage = httpx.post(
        f"{live.url}{SINGLE}", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400 and garbage.json()["errorCode"] == "PARSE_ERROR"
    bulk_missing = httpx.post(f"{live.url}{BULK}", json={"context": {}})
    assert bulk_missing.status_code == 400 and bulk_missing.json()["errorCode"] == "TARGETING_KEY_MISSING"


def test_bulk_evaluation_answers_304_until_the_assignment_changes(live: LiveServer) -> None:
    request = {"context": {"targetingKey": "user-42"}}
    first = httpx.post(f"{live.url}{BULK}", json=request)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert first.json() == {"flags": [evaluate(live, "user-42").json()]}
    unchanged = httpx.post(f"{live.url}{BULK}", json=request, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag and unchanged.content == b""
    weak_list = httpx.post(f"{live.url}{BULK}", json=request, headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak_list.status_code == 304
    other_unit = httpx.post(
        f"{live.url}{BULK}", json={"context": {"targetingKey": "user-1"}}, headers={"If-None-Match": etag}
    )
    assert other_unit.status_code == 200 and other_unit.headers["etag"] != etag

    served = first.json()["flags"][0]["value"]
    killed = httpx.post(f"{live.url}/v1/experiments/{EXPERIMENT}/arms/{served}/kill", headers=ADMIN)
    assert killed.status_code == 200
    changed = httpx.post(f"{live.url}{BULK}", json=request, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert (
        changed.json()["flags"][0]["reason"] == "DISABLED" and changed.json()["flags"][0]["value"] == "legacy"
    )


def test_a_change_made_by_another_process_reaches_evaluations_within_the_refresh(
    serve: Callable[..., LiveServer], engine: Engine
) -> None:
    live = serve(settings=ServiceSettings(admin_token=ADMIN_TOKEN, state_refresh_seconds=0.05))
    assert evaluate(live, "qa-user").json()["reason"] == "SPLIT"
    ExperimentStore(engine).set_override(EXPERIMENT, "qa-user", "inngest")  # as another process would
    for _ in range(200):
        body = evaluate(live, "qa-user").json()
        if body["reason"] == "TARGETING_MATCH":
            break
        time.sleep(0.05)
    assert (body["value"], body["reason"]) == ("inngest", "TARGETING_MATCH")


def test_the_configuration_extension_says_string_flags_and_answers_304(live: LiveServer) -> None:
    first = httpx.get(f"{live.url}/ofrep/v1/configuration")
    assert first.status_code == 200
    assert first.json()["capabilities"]["flagEvaluation"]["supportedTypes"] == ["string"]
    again = httpx.get(f"{live.url}/ofrep/v1/configuration", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
