"""The dashboard in headless Chromium against ``bakeoff serve`` on a real trial.

One browser and one server for the module. Every page is opened as a person would (sign in, search,
click through), checked against the database, for console errors and failed requests, and with
axe-core for serious or critical accessibility violations; a screenshot of each page goes to the
folder printed at the end of the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import axe_script, chromium_path
from conftest import ADMIN_TOKEN, API_TOKEN, Served
from sqlalchemy import text

pytest.importorskip("playwright", reason="playwright is in the dev extra: pip install -e '.[dev]'")
from playwright.sync_api import Browser, Page, sync_playwright

SCREENSHOTS: list[Path] = []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-screenshots")
    SCREENSHOTS.append(folder)
    return folder


class Watched:
    """A page whose console errors and failed requests are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"),
        )


def signed_in(browser: Browser, served: Served, token: str) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page())
    watched.page.goto(f"{served.base_url}/ui")
    assert "/ui/login" in watched.page.url
    watched.page.get_by_label("Token").fill(token)
    watched.page.get_by_role("button", name="Sign in").click()
    watched.page.wait_for_url(f"{served.base_url}/ui")
    return watched


@pytest.fixture(scope="module")
def admin(browser: Browser, served: Served) -> Iterator[Watched]:
    watched = signed_in(browser, served, ADMIN_TOKEN)
    yield watched
    watched.page.context.close()


def check_page(watched: Watched, shots: Path, name: str) -> None:
    """No console errors or failed requests so far, no serious axe violations, and a screenshot."""
    page = watched.page
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(axe_script()))
    result: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert serious == [], serious
    assert watched.problems == [], watched.problems


def db(served: Served, sql: str, **params: Any) -> list[Any]:
    with served.trial.engine.connect() as conn:
        return list(conn.execute(text(sql), {"experiment": served.trial.experiment, **params}))


def test_overview_shows_the_arms_and_refreshes_live(admin: Watched, served: Served, shots: Path) -> None:
    page = admin.page
    page.goto(f"{served.base_url}/ui")
    counts = db(
        served,
        "SELECT served_arm, count(*) FILTER (WHERE outcome = 'completed') AS completed "
        "FROM bakeoff.trial_jobs "
        "WHERE experiment = :experiment AND phase = (SELECT phase FROM bakeoff.experiments "
        "WHERE name = :experiment) GROUP BY served_arm",
    )
    for row in counts:
        assert page.get_by_test_id(f"completed-{row.served_arm}").inner_text() == str(row.completed)
    assert page.locator("[data-chart=ecdf] canvas").count() == 1  # uPlot drew the ECDF
    with page.expect_response(re.compile(r"/ui/overview/live$"), timeout=15_000) as live:
        pass
    assert live.value.status == 200
    page.locator("[data-chart=ecdf] canvas").wait_for()
    check_page(admin, shots, "overview")


def test_search_finds_a_job_by_url_and_opens_it(admin: Watched, served: Served, shots: Path) -> None:
    page = admin.page
    page.goto(f"{served.base_url}/ui/jobs")
    check_page(admin, shots, "jobs")
    page.get_by_label("URL contains").fill("stuck-legacy")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_test_id("total").inner_text().startswith("1 job")
    page.get_by_test_id("jobs-table").get_by_role("link").first.click()
    page.wait_for_url(re.compile(str(served.trial.stuck.legacy_trial_job_id)))
    assert page.get_by_test_id("arm-view-legacy").get_by_text("RUNNING").count() >= 1


@pytest.mark.parametrize("arm", ["legacy", "pgboss", "inngest"])
def test_job_detail_shows_each_arms_own_view(admin: Watched, served: Served, shots: Path, arm: str) -> None:
    [job] = db(
        served,
        "SELECT trial_job_id, document_id FROM bakeoff.trial_jobs WHERE experiment = :experiment "
        "AND served_arm = :arm AND outcome = 'completed' ORDER BY submitted_at LIMIT 1",
        arm=arm,
    )
    page = admin.page
    page.goto(f"{served.base_url}/ui/jobs/{job.trial_job_id}")
    view = page.get_by_test_id(f"arm-view-{arm}")
    expected = {"legacy": "COMPLETED", "pgboss": "completed", "inngest": "completed"}[arm]
    assert expected in view.inner_text()
    if arm == "inngest":
        assert page.get_by_test_id("waterfall").locator("li").count() >= 3  # fetch, extract, save
    check_page(admin, shots, f"job-{arm}")
    if job.document_id:
        page.get_by_test_id("document-link").click()
        page.wait_for_url(re.compile(str(job.document_id)))
        if arm == "legacy":
            check_page(admin, shots, "document")


def test_stuck_work_page(admin: Watched, served: Served, shots: Path) -> None:
    admin.page.goto(f"{served.base_url}/ui/stuck")
    section = admin.page.get_by_test_id("stuck-pgboss").inner_html()
    assert str(served.trial.stuck.pgboss_trial_job_id) in section
    check_page(admin, shots, "stuck")


def test_checks_page(admin: Watched, served: Served, shots: Path) -> None:
    admin.page.goto(f"{served.base_url}/ui/checks")
    assert "pgboss saved" in admin.page.get_by_test_id("checks").inner_text()
    check_page(admin, shots, "checks")


def test_an_admin_action_end_to_end_from_the_page(admin: Watched, served: Served, shots: Path) -> None:
    job = _fresh_pgboss_job(served, "browser-cancel")
    page = admin.page
    page.goto(f"{served.base_url}/ui/jobs/{job}")
    form = page.locator("form.action", has=page.locator('input[name=action][value="cancel"]'))
    form.get_by_label("Who").fill("ada")
    form.get_by_label("Why").fill("stuck in the browser test")
    form.get_by_role("button", name="Cancel").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/ui/jobs/{job}"), page.locator("main").inner_text().replace("\n", " ")
    assert "dashboard_action" in page.get_by_test_id("timeline").inner_text()
    [row] = db(served, "SELECT outcome FROM bakeoff.trial_jobs WHERE trial_job_id = :id", id=job)
    assert row.outcome == "cancelled"
    check_page(admin, shots, "job-after-action")


def test_a_forged_form_without_the_csrf_token_is_refused(admin: Watched, served: Served) -> None:
    job = _fresh_pgboss_job(served, "browser-forged")
    page = admin.page
    page.goto(f"{served.base_url}/ui/jobs/{job}")
    admin.problems.clear()
    page.evaluate(
        """(job) => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/ui/actions/job';
        for (const [k, v] of Object.entries({trial_job_id: job, action: 'cancel', who: 'eve', why: 'x'})) {
          const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
        document.body.appendChild(f); f.submit(); }""",
        str(job),
    )
    page.wait_for_url(re.compile("/ui/actions/job"))
    assert "CSRF" in page.get_by_test_id("refused").inner_text()
    admin.problems.clear()  # the 403 is the expected answer
    [row] = db(served, "SELECT outcome FROM bakeoff.trial_jobs WHERE trial_job_id = :id", id=job)
    assert row.outcome is None


def test_a_reader_sees_no_action_and_an_action_is_refused(browser: Browser, served: Served) -> None:
    job = _fresh_pgboss_job(served, "browser-reader")
    reader = signed_in(browser, served, API_TOKEN)
    try:
        reader.page.goto(f"{served.base_url}/ui/jobs/{job}")
        assert reader.page.locator("form.action").count() == 0
        csrf = next(c["value"] for c in reader.page.context.cookies() if c["name"] == "bakeoff_ui_csrf")
        response = reader.page.request.post(
            f"{served.base_url}/ui/actions/job",
            form={"csrf_token": csrf, "trial_job_id": str(job), "action": "cancel", "who": "r", "why": "r"},
        )
        assert response.status == 403 and "admin token" in response.text()
    finally:
        reader.page.context.close()


def test_on_a_phone_the_overview_fits_the_screen(browser: Browser, served: Served, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.set_extra_http_headers({"Authorization": f"Bearer {API_TOKEN}"})
        page.goto(f"{served.base_url}/ui")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
        assert overflow <= 1
    finally:
        context.close()


def _fresh_pgboss_job(served: Served, name: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{served.base_url}/v1/experiments/{served.trial.experiment}/overrides/{name}"
    assert httpx.put(url, json={"arm": "pgboss"}, headers=headers, timeout=30).status_code in (200, 204)
    created = httpx.post(
        f"{served.base_url}/v1/imports", json={"url": f"http://127.0.0.1:9/{name}", "unit_key": name},
        headers=headers, timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return str(created.json()["trial_job_id"])
