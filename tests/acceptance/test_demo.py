"""``bakeoff demo`` and ``bakeoff stress auditor`` as a user runs them: the real CLI in a subprocess.

The demo runs on a fresh embedded PostgreSQL (its own data dir), with the article server's
latencies shrunk so the suite stays inside its time budget.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_contract import contract_problems

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
