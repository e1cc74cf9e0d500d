"""The dashboard's admin actions end to end against ``bakeoff serve``: each goes through the arm's own
API, is recorded with who and why, and is refused without the admin token or the CSRF token.

This module changes the trial's stuck jobs (it reaps the legacy one), so it runs after the read-only
modules (pytest runs modules in name order).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from conftest import ADMIN_TOKEN, API_TOKEN, Served
from sqlalchemy import text

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def client_for(served: Served, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=served.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        follow_redirects=True,
    )


@pytest.fixture
def admin(served: Served) -> Iterator[httpx.Client]:
    with client_for(served, ADMIN_TOKEN) as client:
        yield client


def csrf_of(client: httpx.Client, page: str = "/ui/stuck") -> str:
    """The CSRF value a page gave this client: in its forms (admin) and always in its cookie."""
    html = client.get(page).text
    cookie = client.cookies.get("bakeoff_ui_csrf")
    assert cookie, "the page set no CSRF cookie"
    assert all(value == cookie for value in re.findall(r'name="csrf_token" value="([^"]*)"', html))
    return cookie


def one(served: Served, sql: str, **params: Any) -> Any:
    with served.trial.engine.connect() as conn:
        return conn.execute(text(sql), params).first()


def action_events(served: Served, trial_job_id: object) -> list[dict[str, Any]]:
    with served.trial.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT detail FROM bakeoff.job_events WHERE trial_job_id = :id "
                "AND event = 'dashboard_action' ORDER BY event_id"
            ),
            {"id": trial_job_id},
        ).all()
    return [r.detail for r in rows]


def fresh_job(served: Served, arm: str, name: str) -> UUID:
    """A new import pinned to ``arm`` through the service's own admin and import routes (no worker)."""
    experiment = served.trial.experiment
    pinned = httpx.put(
        f"{served.base_url}/v1/experiments/{experiment}/overrides/{name}",
        json={"arm": arm}, headers=ADMIN, timeout=30,
    )  # fmt: skip
    assert pinned.status_code in (200, 204), pinned.text
    created = httpx.post(
        f"{served.base_url}/v1/imports",
        json={"url": f"http://127.0.0.1:9/{name}", "unit_key": name}, headers=ADMIN, timeout=30,
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["arm"] == arm, created.text
    return UUID(created.json()["trial_job_id"])


def post_action(client: httpx.Client, trial_job_id: UUID, action: str, **extra: str) -> httpx.Response:
    data = {"csrf_token": csrf_of(client), "trial_job_id": str(trial_job_id), "action": action}
    return client.post("/ui/actions/job", data={**data, "who": "ada", "why": "testing", **extra})


def test_an_action_without_the_admin_token_is_refused_and_changes_nothing(served: Served) -> None:
    job = fresh_job(served, "pgboss", "refused-reader")
    with client_for(served, API_TOKEN) as reader:
        response = post_action(reader, job, "cancel")
    assert response.status_code == 403 and "admin token" in response.text
    assert action_events(served, job) == []
    outcome = "SELECT outcome FROM bakeoff.trial_jobs WHERE trial_job_id = :id"
    assert one(served, outcome, id=job).outcome is None


def test_a_forged_form_without_the_csrf_token_is_refused(served: Served, admin: httpx.Client) -> None:
    job = fresh_job(served, "pgboss", "refused-forged")
    forged = admin.post(
        "/ui/actions/job",
        data={"trial_job_id": str(job), "action": "cancel", "who": "eve", "why": "forged"},
    )
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert action_events(served, job) == []


def test_an_action_without_who_or_why_is_refused(served: Served, admin: httpx.Client) -> None:
    job = fresh_job(served, "pgboss", "refused-anonymous")
    response = post_action(admin, job, "cancel", why=" ")
    assert response.status_code == 422 and "why" in response.text
    assert action_events(served, job) == []


def test_pgboss_cancel_resume_and_delete_go_through_pg_boss(served: Served, admin: httpx.Client) -> None:
    job = fresh_job(served, "pgboss", "pgboss-actions")
    backend_id = one(
        served, "SELECT backend_job_id FROM bakeoff.trial_jobs WHERE trial_job_id = :id", id=job
    ).backend_job_id
    state = "SELECT state::text AS state FROM pgboss.job WHERE id = CAST(:id AS uuid)"
    assert post_action(admin, job, "cancel").status_code == 200  # 303 followed to the job page
    assert one(served, state, id=backend_id).state == "cancelled"
    assert post_action(admin, job, "resume").status_code == 200
    assert one(served, state, id=backend_id).state == "created"
    assert post_action(admin, job, "delete").status_code == 200
    assert one(served, state, id=backend_id) is None
    events = action_events(served, job)
    assert [e["action"] for e in events] == ["pgboss.cancel", "pgboss.resume", "pgboss.delete"]
    assert all(e["by"] == "ada" and e["why"] == "testing" for e in events)
    assert events[0]["result"] == {"cancelled": True} and events[1]["result"] == {"affected": 1}


def test_pgboss_retry_puts_a_failed_job_back(served: Served, admin: httpx.Client) -> None:
    row = one(
        served,
        "SELECT trial_job_id, backend_job_id FROM bakeoff.trial_jobs WHERE trial_job_id = :id",
        id=served.trial.stuck.pgboss_failed_trial_job_id,
    )
    assert post_action(admin, row.trial_job_id, "retry").status_code == 200
    sql = "SELECT state::text AS s FROM pgboss.job WHERE id = CAST(:id AS uuid)"
    state = one(served, sql, id=row.backend_job_id)
    assert state.s == "retry"


def test_inngest_cancel_cancels_the_run(served: Served, admin: httpx.Client) -> None:
    job = fresh_job(served, "inngest", "inngest-cancel")
    assert post_action(admin, job, "cancel").status_code == 200
    run = one(
        served,
        "SELECT r.status FROM inngest.runs r JOIN bakeoff.trial_jobs t "
        "ON t.backend_job_id = r.run_id::text WHERE t.trial_job_id = :id",
        id=job,
    )
    assert run.status == "cancelled"
    assert action_events(served, job)[0]["result"] == {"cancelled": True}


def test_legacy_retry_adds_a_row_to_the_retry_chain(served: Served, admin: httpx.Client) -> None:
    row = one(
        served,
        "SELECT t.trial_job_id, t.backend_job_id FROM bakeoff.trial_jobs t JOIN legacy.job j "
        "ON j.id::text = t.backend_job_id WHERE j.status = 'FAILED' AND t.trial_job_id = :id",
        id=served.trial.stuck.legacy_failed_trial_job_id,
    )
    assert row is not None, "the flaky trial should leave a failed legacy job"
    page = admin.post(
        "/ui/actions/job",
        data={"csrf_token": csrf_of(admin), "trial_job_id": str(row.trial_job_id), "action": "retry",
              "who": "ada", "why": "flaky fetch"},
    )  # fmt: skip
    assert page.status_code == 200 and "dashboard_action" in page.text
    retry = one(
        served,
        "SELECT status, attempt FROM legacy.job WHERE original_job_id = CAST(:id AS uuid)",
        id=row.backend_job_id,
    )
    assert retry.status == "PENDING" and retry.attempt == 2
    assert action_events(served, row.trial_job_id)[-1]["action"] == "legacy.retry"


def test_reap_fails_the_stuck_legacy_row_as_worker_lost(served: Served, admin: httpx.Client) -> None:
    stuck = served.trial.stuck.legacy_trial_job_id
    response = admin.post(
        "/ui/actions/legacy-reap",
        data={"csrf_token": csrf_of(admin), "older_than_minutes": "60", "who": "ada", "why": "worker died"},
    )
    assert response.status_code == 200
    job = one(served, "SELECT outcome, error_kind FROM bakeoff.trial_jobs WHERE trial_job_id = :id", id=stuck)
    assert (job.outcome, job.error_kind) == ("failed", "worker_lost")
    assert action_events(served, stuck)[-1]["action"] == "legacy.reap"


def test_kill_and_revive_an_arm(served: Served, admin: httpx.Client) -> None:
    def post(action: str) -> httpx.Response:
        data = {"csrf_token": csrf_of(admin), "arm": "inngest", "action": action}
        data |= {"who": "ada", "why": "drill"}
        return admin.post("/ui/actions/arm", data=data)

    killed = "SELECT killed_arms FROM bakeoff.experiments WHERE name = :name"
    assert post("kill").status_code == 200
    assert one(served, killed, name=served.trial.experiment).killed_arms == ["inngest"]
    assert post("revive").status_code == 200
    assert one(served, killed, name=served.trial.experiment).killed_arms == []


def test_record_an_observation(served: Served, admin: httpx.Client) -> None:
    data = {"csrf_token": csrf_of(admin, "/ui"), "arm": "pgboss", "kind": "debugging_minutes", "value": "12",
            "who": "ada", "why": "found the stuck job in the dashboard"}  # fmt: skip
    assert admin.post("/ui/actions/observation", data=data).status_code == 200
    row = one(
        served,
        "SELECT value, recorded_by, note FROM bakeoff.observations WHERE experiment = :e AND arm = 'pgboss' "
        "ORDER BY observation_id DESC LIMIT 1",
        e=served.trial.experiment,
    )
    assert (row.value, row.recorded_by, row.note) == (12.0, "ada", "found the stuck job in the dashboard")
    data |= {"csrf_token": csrf_of(admin, "/ui"), "kind": "x"}
    bad = admin.post("/ui/actions/observation", data=data)
    assert bad.status_code == 422 and "kind must be one of" in bad.text


def test_inngest_rerun_starts_a_new_run_of_a_cancelled_one_and_refuses_a_completed_one(
    served: Served, admin: httpx.Client
) -> None:
    job = fresh_job(served, "inngest", "inngest-rerun")
    assert post_action(admin, job, "cancel").status_code == 200
    assert post_action(admin, job, "rerun").status_code == 200
    [rerun] = [
        e["result"]["rerun_run_id"] for e in action_events(served, job) if "rerun_run_id" in e["result"]
    ]
    first = one(served, "SELECT backend_job_id FROM bakeoff.trial_jobs WHERE trial_job_id = :id", id=job)
    again = one(
        served,
        "SELECT status, event->'data'->>'trial_job_id' AS trial_job_id FROM inngest.runs "
        "WHERE run_id = CAST(:run AS uuid)",
        run=rerun,
    )
    assert rerun != first.backend_job_id  # a new run; the trial job still points at its first
    assert again.status == "queued" and again.trial_job_id == str(job)
    completed = one(
        served,
        "SELECT trial_job_id FROM bakeoff.trial_jobs WHERE experiment = :experiment "
        "AND served_arm = 'inngest' AND outcome = 'completed' LIMIT 1",
        experiment=served.trial.experiment,
    )
    refused = post_action(admin, completed.trial_job_id, "rerun")
    assert refused.status_code == 409 and "only failed or cancelled runs rerun" in refused.text
    assert action_events(served, completed.trial_job_id) == []


def test_a_kill_and_a_revive_are_filed_under_the_arms_latest_job(served: Served, admin: httpx.Client) -> None:
    latest = one(
        served,
        "SELECT trial_job_id FROM bakeoff.trial_jobs WHERE experiment = :experiment "
        "AND served_arm = 'pgboss' ORDER BY submitted_at DESC LIMIT 1",
        experiment=served.trial.experiment,
    )
    for action in ("kill", "revive"):
        data = {"csrf_token": csrf_of(admin), "arm": "pgboss", "action": action, "who": "ada", "why": "drill"}
        assert admin.post("/ui/actions/arm", data=data).status_code == 200
    filed = [(e["action"], e["by"], e["why"]) for e in action_events(served, latest.trial_job_id)]
    assert filed[-2:] == [("arm.kill", "ada", "drill"), ("arm.revive", "ada", "drill")]
