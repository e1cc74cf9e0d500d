"""``bakeoff demo`` and ``bakeoff stress auditor`` as a user runs them: the real CLI in a subprocess.

The demo runs on a fresh embedded PostgreSQL (its own data dir), with the article server's
latencies shrunk so the suite stays inside its time budget.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from report_contract import contract_problems
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from bakeoff.backends import create_backend
from bakeoff.contract import ARM_NAMES, JobState
from bakeoff.db.engine import make_engine
from bakeoff.trial.runner import close_backends

pytestmark = pytest.mark.slow


def bakeoff(args: list[str], env: dict[str, str], timeout: float = 420) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
    )


@pytest.fixture
def fresh_embedded() -> Iterator[dict[str, str]]:
    """Environment for a bakeoff that starts its own embedded PostgreSQL in an empty data dir.

    The data dir is not under pytest's tmp_path: pytest makes its base folder private (0700) at
    every session start, and the server, run as an unprivileged user under root, must reach it.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="bakeoff-demo-test-"))
    env = {"BAKEOFF_DATA_DIR": str(data_dir), "BAKEOFF_DATABASE_URL": ""}
    yield env
    bakeoff(["db", "stop"], env, timeout=120)
    shutil.rmtree(data_dir, ignore_errors=True)


def run_demo(env: dict[str, str], out: Path, *extra: str) -> dict[str, Any]:
    result = bakeoff(
        [
            "demo",
            "--imports",
            "60",
            "--rate",
            "20",
            "--latency-scale",
            "0.2",
            "--out",
            str(out),
            "--json",
            *extra,
        ],
        env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_demo_routes_every_import_to_a_terminal_state_and_writes_the_report(
    fresh_embedded: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    summary = run_demo(fresh_embedded, out)

    assert summary["submitted"] == 60
    assert summary["submit_errors"] == []
    assert summary["all_terminal"] is True
    assert summary["open_jobs"] == 0
    assert summary["trial_jobs_by_arm"] == summary["submissions_by_arm"]
    assert summary["finished_by_arm"] == summary["trial_jobs_by_arm"]
    assert set(summary["submissions_by_arm"]) == {"legacy", "pgboss", "inngest"}
    documents = summary["documents"]
    assert documents["completed_with_document"] == documents["completed"] > 0
    assert documents["not_completed_with_document"] == 0

    body = json.loads((out / "report.json").read_text())
    assert contract_problems(body) == []
    assert body["experiment"] == summary["experiment"]
    assert sum(arm["assigned"] for arm in body["arms"].values()) == 60
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "data:image/png;base64" in html
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# ")
    # The inngest arm ran on `inngest dev --retry-interval 5`; the report says so beside the numbers.
    [note] = summary["notes"]
    assert "--retry-interval 5" in note
    assert body["notes"][-1] == note and note in markdown


def test_aa_demo_finds_no_winner(fresh_embedded: dict[str, str], tmp_path: Path) -> None:
    summary = run_demo(fresh_embedded, tmp_path / "aa", "--aa")
    assert summary["all_terminal"] is True
    assert summary["verdict"]["status"] in ("no_difference", "insufficient_data")
    assert summary["verdict"]["winner"] is None
    assert summary["notes"] == []  # served by pgboss alone: no inngest retry setting to report


def test_ctrl_c_drains_the_workers_leaves_nothing_running_and_writes_a_partial_report(
    fresh_embedded: dict[str, str], tmp_path: Path
) -> None:
    """SIGINT to the demo's whole process group, as a terminal's Ctrl-C sends it (legacy children too)."""
    out = tmp_path / "partial"
    args = ["demo", "--imports", "400", "--rate", "10", "--latency-scale", "0.2", "--out", str(out), "--json"]
    demo = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **fresh_embedded},
        start_new_session=True,
    )
    try:
        url = bakeoff(["db", "url"], fresh_embedded).stdout.strip()
        engine = make_engine(url)
        count_started = text("SELECT count(*) FROM bakeoff.trial_jobs WHERE started_at IS NOT NULL")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    if conn.execute(count_started).scalar_one() >= 20:
                        break
            except ProgrammingError:  # the demo has not migrated the fresh database yet
                pass
            time.sleep(0.2)
        os.killpg(demo.pid, signal.SIGINT)
        stdout, stderr = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.communicate(timeout=30)

    assert demo.returncode == 130, stderr[-2000:]
    summary = json.loads(stdout)
    assert summary["interrupted"] is True and summary["all_terminal"] is False
    assert 20 <= summary["submitted"] < 400
    assert summary["trial_jobs_by_arm"] == summary["submissions_by_arm"]
    assert summary["documents"]["not_completed_with_document"] == 0
    body = json.loads((out / "report.json").read_text())
    assert contract_problems(body) == []
    assert sum(arm["assigned"] for arm in body["arms"].values()) == summary["submitted"]
    assert (out / "report.html").exists()

    # Nothing was left running: every job not finished is still queued (or waiting for a retry).
    open_jobs = text(
        "SELECT served_arm, backend_job_id FROM bakeoff.trial_jobs "
        "WHERE experiment = :experiment AND outcome IS NULL"
    )
    with engine.connect() as conn:
        rows = conn.execute(open_jobs, {"experiment": summary["experiment"]}).all()
    assert len(rows) == summary["open_jobs"]
    backends = {arm: create_backend(arm, engine) for arm in ARM_NAMES}
    states = {backends[arm].state(job_id) for arm, job_id in rows}
    close_backends(backends.values())
    assert JobState.RUNNING not in states, states
    # The interrupt failed nothing: legacy children ignore the group's SIGINT and finish their job.
    crashed = text("SELECT count(*) FROM bakeoff.trial_jobs WHERE error_kind = 'worker_crashed'")
    with engine.connect() as conn:
        assert conn.execute(crashed).scalar_one() == 0
    engine.dispose()


def test_auditor_stress_gives_the_same_synthesis_on_every_arm(database_url: str) -> None:
    result = bakeoff(
        ["stress", "auditor", "--chunks", "50", "--json"], {"BAKEOFF_DATABASE_URL": database_url}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert [r["arm"] for r in rows] == ["legacy", "pgboss", "inngest"]
    assert len({r["digest"] for r in rows}) == 1
    for row in rows:
        assert row["operations"] == 200
        assert row["wall_seconds"] > 0
    by_arm = {r["arm"]: r for r in rows}
    assert by_arm["pgboss"]["units_created"] == 201  # 200 plugin jobs + the synthesis job
    assert by_arm["inngest"]["limit_hit"] is None  # 50 routes + 200 calls + synthesis fit in 1,000 steps


def test_demo_serve_keeps_serving_the_dashboard_after_the_report_until_ctrl_c(
    database_url: str, tmp_path: Path
) -> None:
    args = ["demo", "--imports", "30", "--rate", "30", "--latency-scale", "0.2", "--out", str(tmp_path)]
    demo = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", *args, "--serve", "--serve-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BAKEOFF_DATABASE_URL": database_url, "BAKEOFF_API_TOKEN": ""},
    )
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # the verdict, then the dashboard's address once it listens
            lines.append(line)
            if line.startswith("dashboard: "):
                break
        assert lines and lines[-1].startswith("dashboard: "), "".join(lines)[-2000:]
        assert (tmp_path / "report.html").exists()  # the report was written before serving
        dashboard = lines[-1].split()[1]
        page = httpx.get(dashboard, timeout=30)
        assert page.status_code == 200
        assert "Trial overview" in page.text and "demo-" in page.text
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
        demo.communicate(timeout=30)
    with pytest.raises(httpx.TransportError):
        httpx.get(dashboard, timeout=5)
