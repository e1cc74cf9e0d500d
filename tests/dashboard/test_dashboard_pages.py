"""The dashboard's pages over HTTP against ``bakeoff serve`` on a real trial: they show what the DB holds."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, API_TOKEN, Served
from sqlalchemy import text
from trial_fixture import CONTROL_MARKER

from bakeoff.dashboard import views
from bakeoff.testing import wait_for

READER = {"Authorization": f"Bearer {API_TOKEN}"}


def get(served: Served, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{served.base_url}{path}", params=params, headers=READER, timeout=30)


def rows(served: Served, sql: str, **params: Any) -> list[Any]:
    with served.trial.engine.connect() as conn:
        return list(conn.execute(text(sql), {"experiment": served.trial.experiment, **params}))


def cell(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element {testid}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_without_the_api_token_pages_send_the_reader_to_sign_in(served: Served) -> None:
    response = httpx.get(f"{served.base_url}/ui/jobs", timeout=30)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fjobs"
    wrong = httpx.get(f"{served.base_url}/ui", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 303


def test_overview_shows_each_arms_counts_assignments_and_the_stored_verdict(served: Served) -> None:
    html = get(served, "/ui").text
    phase = rows(served, "SELECT phase FROM bakeoff.experiments WHERE name = :experiment")[0].phase
    counted = rows(
        served,
        "SELECT served_arm, count(*) FILTER (WHERE outcome IS NULL) AS open, "
        "count(*) FILTER (WHERE outcome = 'completed') AS completed, "
        "count(*) FILTER (WHERE outcome = 'failed') AS failed FROM bakeoff.trial_jobs "
        "WHERE experiment = :experiment AND phase = :phase GROUP BY served_arm",
        phase=phase,
    )
    assert {r.served_arm for r in counted} == {"legacy", "pgboss", "inngest"}
    assert sum(r.failed for r in counted) > 0, "the flaky trial should have failures"
    for r in counted:
        assert cell(html, f"open-{r.served_arm}") == str(r.open)
        assert cell(html, f"completed-{r.served_arm}") == str(r.completed)
        assert cell(html, f"failed-{r.served_arm}") == str(r.failed)
    assigned = rows(
        served,
        "SELECT assigned_arm, count(*) AS n FROM bakeoff.trial_jobs "
        "WHERE experiment = :experiment AND phase = :phase GROUP BY assigned_arm",
        phase=phase,
    )
    for r in assigned:
        assert cell(html, f"assigned-{r.assigned_arm}") == str(r.n)
    [report] = rows(
        served,
        "SELECT verdict FROM bakeoff.reports WHERE experiment = :experiment "
        "ORDER BY generated_at DESC LIMIT 1",
    )
    assert cell(html, "verdict").startswith(report.verdict.replace("_", " "))
    assert 'data-chart="ecdf"' in html and 'hx-trigger="every' in html


def test_the_live_fragment_is_the_overview_body_alone(served: Served) -> None:
    fragment = get(served, "/ui/overview/live")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'data-testid="arm-table"' in fragment.text


def test_search_finds_a_job_by_url_and_filters_by_arm_and_outcome(served: Served) -> None:
    stuck_url = "http://127.0.0.1:9/stuck-pgboss"
    found = get(served, "/ui/jobs", url="stuck-pgboss").text
    assert stuck_url in found and cell(found, "total").startswith("1 job")
    assert f"/ui/jobs/{served.trial.stuck.pgboss_trial_job_id}" in found
    [failed] = rows(
        served,
        "SELECT count(*) AS n FROM bakeoff.trial_jobs WHERE experiment = :experiment "
        "AND served_arm = 'inngest' AND outcome = 'failed'",
    )
    page = get(served, "/ui/jobs", arm="inngest", outcome="failed").text
    assert cell(page, "total").startswith(f"{failed.n} job")


def test_search_refuses_a_bad_filter_naming_it(served: Served) -> None:
    response = get(served, "/ui/jobs", trial_job_id="not-a-uuid")
    assert response.status_code == 422
    assert "trial_job_id must be a UUID" in cell(response.text, "search-error")
    assert get(served, "/ui/jobs", arm="kafka").status_code == 422


def test_pages_of_the_search_hold_every_job_once(served: Served) -> None:
    [total] = rows(served, "SELECT count(*) AS n FROM bakeoff.trial_jobs WHERE experiment = :experiment")
    ids: list[str] = []
    page = 1
    while True:
        html = get(served, "/ui/jobs", page=page).text
        ids += re.findall(r'href="/ui/jobs/([0-9a-f-]{36})"', html)
        if 'rel="next"' not in html:
            break
        page += 1
    assert len(ids) == len(set(ids)) == total.n


def test_csv_download_holds_the_filtered_rows(served: Served) -> None:
    response = get(served, "/ui/jobs.csv", outcome="failed")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    expected = rows(
        served,
        "SELECT trial_job_id::text AS id, error_kind FROM bakeoff.trial_jobs "
        "WHERE experiment = :experiment AND outcome = 'failed'",
    )
    assert {(r["trial_job_id"], r["error_kind"]) for r in table} == {(r.id, r.error_kind) for r in expected}
    assert all(r["outcome"] == "failed" for r in table)


@pytest.mark.parametrize(
    ("arm", "attribute", "expected"),
    [
        ("legacy", "legacy_trial_job_id", "RUNNING"),
        ("pgboss", "pgboss_trial_job_id", "retry"),
        ("inngest", "inngest_trial_job_id", "queued"),
    ],
)
def test_job_detail_shows_the_timeline_and_the_arms_own_view(
    served: Served, arm: str, attribute: str, expected: str
) -> None:
    trial_job_id = getattr(served.trial.stuck, attribute)
    html = get(served, f"/ui/jobs/{trial_job_id}").text
    assert cell(html, "served-arm").startswith(arm)
    assert f'data-testid="arm-view-{arm}"' in html
    view = html.split(f'data-testid="arm-view-{arm}"', 1)[1]
    assert expected in view
    events = rows(served, "SELECT event FROM bakeoff.job_events WHERE trial_job_id = :id", id=trial_job_id)
    timeline = html.split('data-testid="timeline"', 1)[1].split("</ol>", 1)[0]
    assert [e.event for e in events] == re.findall(r'<span class="event">(\w+)', timeline)


def test_a_completed_job_links_to_its_saved_document(served: Served) -> None:
    [job] = rows(
        served,
        "SELECT trial_job_id, document_id FROM bakeoff.trial_jobs WHERE experiment = :experiment "
        "AND document_id IS NOT NULL LIMIT 1",
    )
    html = get(served, f"/ui/jobs/{job.trial_job_id}").text
    assert f'href="/ui/documents/{job.document_id}"' in html
    document = get(served, f"/ui/documents/{job.document_id}")
    assert document.status_code == 200 and str(job.trial_job_id) in document.text


def test_an_unknown_job_is_a_404_page(served: Served) -> None:
    assert get(served, "/ui/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert get(served, "/ui/jobs/nope").status_code == 404


def test_sign_in_needs_the_csrf_token_and_a_real_token(served: Served) -> None:
    with httpx.Client(base_url=served.base_url, timeout=30) as client:
        form = client.get("/ui/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf
        forged = client.post("/ui/login", data={"token": ADMIN_TOKEN, "next": "/ui"}, follow_redirects=False)
        assert forged.status_code == 403
        wrong = client.post("/ui/login", data={"token": "x" * 20, "csrf_token": csrf.group(1)})
        assert wrong.status_code == 403
        ok = client.post(
            "/ui/login",
            data={"token": ADMIN_TOKEN, "csrf_token": csrf.group(1), "next": "/ui/jobs"},
            follow_redirects=False,
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/ui/jobs"
        page = client.get("/ui/jobs")
        assert page.status_code == 200 and ">admin<" in page.text


def test_stuck_work_lists_what_needs_a_person_per_arm(served: Served) -> None:
    stuck = served.trial.stuck
    html = get(served, "/ui/stuck").text
    sections = {arm: html.split(f'data-testid="stuck-{arm}"', 1)[1].split("</section>", 1)[0] for arm in
                ("legacy", "pgboss", "inngest")}  # fmt: skip
    assert str(stuck.legacy_trial_job_id) in sections["legacy"] and "RUNNING for" in sections["legacy"]
    assert str(stuck.pgboss_trial_job_id) in sections["pgboss"] and "in retry" in sections["pgboss"]
    assert str(stuck.pgboss_failed_trial_job_id) in sections["pgboss"]
    inngest = sections["inngest"]
    assert str(stuck.inngest_trial_job_id) not in inngest  # queued for seconds only: not stuck yet
    later = get(served, "/ui/stuck", older_than_minutes="0.001").text
    assert str(stuck.inngest_trial_job_id) in later.split('data-testid="stuck-inngest"', 1)[1]
    [backlog] = rows(served, "SELECT count(*) AS n FROM pgboss.job WHERE state IN ('created', 'retry')")
    assert cell(html, "backlog-pgboss") == str(backlog.n)


def test_checks_page_shows_the_guardrail_and_a_differing_document_beside_the_controls(
    served: Served,
) -> None:
    html = get(served, "/ui/checks").text
    assert cell(html, "checks")  # the report's sections, rendered
    assert "Guardrail" in html and "Consistency" in html
    differing = rows(
        served,
        "SELECT arm, trial_job_id FROM bakeoff.consistency_checks "
        "WHERE experiment = :experiment AND NOT identical",
    )
    assert [(r.arm, r.trial_job_id) for r in differing] == [
        ("pgboss", served.trial.stuck.differing_trial_job_id)
    ]
    assert "pgboss saved" in html and "control re-fetched" in html
    assert CONTROL_MARKER in html


def test_the_checks_are_kept_and_refreshed_in_the_background(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = views.ChecksCache()
    engine, experiment = served.trial.engine, served.trial.experiment
    first = cache.get(engine, experiment)  # the first visit measures
    assert cache.get(engine, experiment) is first  # fresh: kept
    monkeypatch.setattr(views, "CHECKS_FRESH_SECONDS", 0.0)
    assert cache.get(engine, experiment) is first  # stale: shown at once, measured again behind it
    wait_for(lambda: cache.get(engine, experiment) is not first, "the background refresh")
    assert cache.get(engine, experiment).at > first.at
