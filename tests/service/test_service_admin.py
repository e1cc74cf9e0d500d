"""Experiment state and the admin routes: tokens refused without a change, accepted with one."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
from service_support import (
    ADMIN_TOKEN,
    API_TOKEN,
    EXPERIMENT,
    LiveServer,
    counts,
    experiment_row,
    recording_arms,
)
from sqlalchemy import Engine

from bakeoff.contract import Health
from bakeoff.service import ServiceSettings
from bakeoff.testing import RecordingBackend

BASE = f"/v1/experiments/{EXPERIMENT}"
PROBLEM = "application/problem+json"


def admin_calls() -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("POST", f"{BASE}/arms/inngest/kill", None),
        ("POST", f"{BASE}/arms/pgboss/revive", None),
        ("PUT", f"{BASE}/weights", {"weights": {"legacy": 2, "pgboss": 1, "inngest": 1}}),
        ("PUT", f"{BASE}/overrides/qa-user", {"arm": "inngest"}),
        ("DELETE", f"{BASE}/overrides/qa-user", None),
    ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_experiment_shows_phase_weights_killed_arms_and_counts(live: LiveServer) -> None:
    for i in range(6):
        assert (
            httpx.post(f"{live.url}/v1/imports", json={"url": f"https://example.com/{i}"}).status_code == 201
        )
    body = httpx.get(f"{live.url}{BASE}").json()
    assert body["name"] == EXPERIMENT and body["phase"] == 1 and body["killed_arms"] == []
    assert body["weights"] == {"legacy": 1.0, "pgboss": 1.0, "inngest": 1.0}
    assert sum(arm["submitted"] for arm in body["counts"].values()) == 6
    assert sum(arm["open"] for arm in body["counts"].values()) == 6
    unknown = httpx.get(f"{live.url}/v1/experiments/other")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM


def test_without_an_admin_token_configured_admin_routes_are_disabled(
    serve: Callable[..., LiveServer], engine: Engine
) -> None:
    live = serve(admin_token=None)
    before = (experiment_row(engine), counts(engine))
    for method, path, body in admin_calls():
        for headers in ({}, bearer("anything-at-all-0123456789")):
            response = httpx.request(method, f"{live.url}{path}", json=body, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["detail"].startswith("admin routes are disabled")
    assert (experiment_row(engine), counts(engine)) == before


def test_admin_routes_refuse_no_token_and_a_wrong_one_and_change_nothing(
    live: LiveServer, engine: Engine
) -> None:
    before = (experiment_row(engine), counts(engine))
    for method, path, body in admin_calls():
        missing = httpx.request(method, f"{live.url}{path}", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.request(method, f"{live.url}{path}", json=body, headers=bearer(ADMIN_TOKEN + "x"))
        assert wrong.status_code == 403 and wrong.headers["content-type"] == PROBLEM
        basic = httpx.request(method, f"{live.url}{path}", json=body, headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401
    assert (experiment_row(engine), counts(engine)) == before


def test_admin_routes_with_the_token_steer_the_experiment(live: LiveServer, engine: Engine) -> None:
    admin = bearer(ADMIN_TOKEN)
    killed = httpx.post(f"{live.url}{BASE}/arms/inngest/kill", headers=admin)
    assert killed.status_code == 200 and killed.json()["killed_arms"] == ["inngest"]
    assert experiment_row(engine)["killed_arms"] == ["inngest"]
    revived = httpx.post(f"{live.url}{BASE}/arms/inngest/revive", headers=admin)
    assert revived.json()["killed_arms"] == []

    weights = httpx.put(
        f"{live.url}{BASE}/weights", json={"weights": {"legacy": 2, "pgboss": 1, "inngest": 1}}, headers=admin
    )
    assert weights.status_code == 200 and weights.json()["phase"] == 2
    assert experiment_row(engine)["weights"] == [2.0, 1.0, 1.0]

    pinned = httpx.put(f"{live.url}{BASE}/overrides/qa-user", json={"arm": "inngest"}, headers=admin)
    assert pinned.status_code == 200 and pinned.json() == {
        "experiment": EXPERIMENT,
        "unit_key": "qa-user",
        "arm": "inngest",
    }
    routed = httpx.post(
        f"{live.url}/v1/imports", json={"url": "https://example.com/q", "unit_key": "qa-user"}
    ).json()
    assert (routed["arm"], routed["assignment_reason"]) == ("inngest", "override")
    assert httpx.delete(f"{live.url}{BASE}/overrides/qa-user", headers=admin).status_code == 204
    assert httpx.delete(f"{live.url}{BASE}/overrides/qa-user", headers=admin).status_code == 404
    assert experiment_row(engine)["overrides"] == []


def test_admin_refuses_bad_values_naming_them_and_changes_nothing(live: LiveServer, engine: Engine) -> None:
    admin = bearer(ADMIN_TOKEN)
    before = (experiment_row(engine), counts(engine))
    control = httpx.post(f"{live.url}{BASE}/arms/legacy/kill", headers=admin)
    assert control.status_code == 422 and "control" in control.json()["detail"]
    unknown_arm = httpx.post(f"{live.url}{BASE}/arms/celery/kill", headers=admin)
    assert unknown_arm.status_code == 422 and "celery" in unknown_arm.json()["detail"]
    bad_weights = httpx.put(f"{live.url}{BASE}/weights", json={"weights": {"legacy": 1}}, headers=admin)
    assert bad_weights.status_code == 422 and "missing" in bad_weights.json()["detail"]
    negative = httpx.put(
        f"{live.url}{BASE}/weights",
        json={"weights": {"legacy": -1, "pgboss": 1, "inngest": 1}},
        headers=admin,
    )
    assert negative.status_code == 422
    bad_override = httpx.put(f"{live.url}{BASE}/overrides/u", json={"arm": "celery"}, headers=admin)
    assert bad_override.status_code == 422 and "celery" in bad_override.json()["detail"]
    other = httpx.post(f"{live.url}/v1/experiments/other/arms/inngest/kill", headers=admin)
    assert other.status_code == 404
    assert (experiment_row(engine), counts(engine)) == before


def test_an_api_token_guards_the_other_routes_but_not_the_probes(
    serve: Callable[..., LiveServer], engine: Engine
) -> None:
    live = serve(settings=ServiceSettings(admin_token=ADMIN_TOKEN, api_token=API_TOKEN))
    request = {"url": "https://example.com/t"}
    before = counts(engine)
    assert httpx.post(f"{live.url}/v1/imports", json=request).status_code == 401
    assert (
        httpx.post(f"{live.url}/v1/imports", json=request, headers=bearer(API_TOKEN[:-1] + "?")).status_code
        == 403
    )
    assert httpx.get(f"{live.url}{BASE}").status_code == 401
    assert httpx.get(f"{live.url}/metrics").status_code == 401
    ofrep = httpx.post(
        f"{live.url}/ofrep/v1/evaluate/flags/{EXPERIMENT}", json={"context": {"targetingKey": "u"}}
    )
    assert ofrep.status_code == 401
    assert counts(engine) == before
    assert httpx.post(f"{live.url}/v1/imports", json=request, headers=bearer(API_TOKEN)).status_code == 201
    assert httpx.get(f"{live.url}{BASE}", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert httpx.get(f"{live.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live.url}/readyz").status_code == 200
    assert httpx.get(f"{live.url}/openapi.json").status_code == 200


def test_readyz_reports_the_database_and_each_arms_health(live: LiveServer) -> None:
    ready = httpx.get(f"{live.url}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["database"] == "ok"
    assert set(body["arms"]) == {"legacy", "pgboss", "inngest"} and all(
        a["ok"] for a in body["arms"].values()
    )


class PausedBackend(RecordingBackend):
    """An arm whose health check says it cannot take work."""

    def health(self) -> Health:
        return Health(ok=False, detail="queue paused by an operator")


def test_readyz_is_503_naming_the_arm_that_is_not_healthy(
    serve: Callable[..., LiveServer], engine: Engine
) -> None:
    live = serve(backends={**recording_arms(engine), "inngest": PausedBackend("inngest", engine)})
    response = httpx.get(f"{live.url}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False and body["database"] == "ok"
    assert body["arms"]["inngest"] == {
        "ok": False,
        "detail": "queue paused by an operator",
        "queued": None,
        "running": None,
    }
    assert body["arms"]["legacy"]["ok"] is True
    assert httpx.get(f"{live.url}/healthz").status_code == 200  # the process itself is fine


def test_a_url_unit_key_can_be_overridden_with_its_slashes_percent_encoded(
    live: LiveServer, engine: Engine
) -> None:
    """Unit keys default to the import's URL, so an override path must carry slashes."""
    unit = "https://example.com/articles/7?x=1"
    path = f"{live.url}{BASE}/overrides/{quote(unit, safe='')}"
    pinned = httpx.put(path, json={"arm": "inngest"}, headers=bearer(ADMIN_TOKEN))
    assert pinned.status_code == 200 and pinned.json()["unit_key"] == unit
    assert experiment_row(engine)["overrides"] == [(unit, "inngest")]
    routed = httpx.post(f"{live.url}/v1/imports", json={"url": unit}).json()
    assert (routed["arm"], routed["assignment_reason"]) == ("inngest", "override")
    assert httpx.delete(path, headers=bearer(ADMIN_TOKEN)).status_code == 204
