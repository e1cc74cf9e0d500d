"""``POST /v1/imports`` and ``GET /v1/imports/{id}`` on a real uvicorn: jobs, duplicates, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import httpx
from service_support import EXPERIMENT, LiveServer, counts
from sqlalchemy import Engine, text

from bakeoff.contract import ARM_NAMES
from bakeoff.testing import FailingBackend

PROBLEM = "application/problem+json"


def test_a_new_import_is_201_and_its_lifecycle_can_be_read(live: LiveServer, engine: Engine) -> None:
    response = httpx.post(
        f"{live.url}/v1/imports", json={"url": "https://example.com/a", "unit_key": "user-42"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["experiment"] == EXPERIMENT and body["phase"] == 1 and body["duplicate"] is False
    assert body["arm"] == body["assigned_arm"] == live.service.router.assign("user-42") == "pgboss"
    assert body["assignment_reason"] == "hash" and body["backend_job_id"]

    job = httpx.get(f"{live.url}/v1/imports/{body['trial_job_id']}").json()
    assert job["trial_job_id"] == body["trial_job_id"] and job["unit_key"] == "user-42"
    assert job["served_arm"] == "pgboss" and job["outcome"] is None and job["submitted_at"]
    assert [event["event"] for event in job["events"]] == ["submitted", "enqueued"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT arm, trial_job_id FROM public.router_fake_jobs")).one()
    assert stored.arm == "pgboss" and str(stored.trial_job_id) == body["trial_job_id"]


def test_a_repeated_idempotency_key_is_200_with_the_same_body(live: LiveServer, engine: Engine) -> None:
    request = {"url": "https://example.com/b", "idempotency_key": "import-1"}
    first = httpx.post(f"{live.url}/v1/imports", json=request)
    again = httpx.post(
        f"{live.url}/v1/imports",
        json={"url": "https://example.com/b"},
        headers={"Idempotency-Key": "import-1"},
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    assert counts(engine)["bakeoff.trial_jobs"] == 1


def test_sixteen_concurrent_duplicate_posts_make_one_job(live: LiveServer, engine: Engine) -> None:
    async def post_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/imports",
                        json={"url": "https://example.com/c"},
                        headers={"Idempotency-Key": "same"},
                    )
                    for _ in range(16)
                )
            )

    responses = asyncio.run(post_all())
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201]
    assert len({r.json()["trial_job_id"] for r in responses}) == 1
    assert [r.json()["duplicate"] for r in responses].count(False) == 1
    written = counts(engine)
    assert written["bakeoff.trial_jobs"] == 1 and written["public.router_fake_jobs"] == 1


def test_bad_input_is_422_problem_json_naming_the_field_and_writes_nothing(
    live: LiveServer, engine: Engine
) -> None:
    cases = [
        ({"unit_key": "u"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://example.com/x", "unit_key": ""}, "unit_key"),
        ({"url": "https://example.com/x", "colour": "red"}, "colour"),
        ({"url": "https://example.com/x", "idempotency_key": "k" * 513}, "idempotency_key"),
    ]
    before = counts(engine)
    for body, field in cases:
        response = httpx.post(f"{live.url}/v1/imports", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == 422 and problem["title"] and problem["type"].endswith("invalid-request")
        assert any(error["field"].endswith(field) for error in problem["errors"]), (body, problem)
    not_json = httpx.post(
        f"{live.url}/v1/imports", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.headers["content-type"] == PROBLEM
    both = httpx.post(
        f"{live.url}/v1/imports",
        json={"url": "https://example.com/x", "idempotency_key": "a"},
        headers={"Idempotency-Key": "b"},
    )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "idempotency_key"
    assert counts(engine) == before


def test_an_oversized_body_is_413_and_writes_nothing(live: LiveServer, engine: Engine) -> None:
    before = counts(engine)
    huge = {"url": "https://example.com/x", "unit_key": "u" * (live.settings.max_body_bytes + 1)}
    response = httpx.post(f"{live.url}/v1/imports", json=huge)
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    assert str(live.settings.max_body_bytes) in response.json()["detail"]

    def chunks() -> object:
        yield b'{"url": "https://example.com/x", "unit_key": "'
        for _ in range(live.settings.max_body_bytes // 1024 + 1):
            yield b"u" * 1024
        yield b'"}'

    streamed = httpx.post(
        f"{live.url}/v1/imports", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert counts(engine) == before


def test_a_submit_no_arm_can_take_is_503_and_writes_nothing(
    serve: Callable[..., LiveServer], engine: Engine
) -> None:
    live = serve(backends={arm: FailingBackend(arm, engine) for arm in ARM_NAMES})
    before = counts(engine)
    response = httpx.post(f"{live.url}/v1/imports", json={"url": "https://example.com/d"})
    assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
    assert "nothing was written" in response.json()["detail"]
    assert counts(engine) == before


def test_unknown_and_malformed_job_ids(live: LiveServer) -> None:
    missing = httpx.get(f"{live.url}/v1/imports/{UUID(int=7)}")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert str(UUID(int=7)) in missing.json()["detail"]
    malformed = httpx.get(f"{live.url}/v1/imports/not-a-uuid")
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "path.trial_job_id"
    no_route = httpx.get(f"{live.url}/v2/nothing")
    assert no_route.status_code == 404 and no_route.headers["content-type"] == PROBLEM
    wrong_method = httpx.delete(f"{live.url}/v1/imports")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == PROBLEM
