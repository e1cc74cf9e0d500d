"""PostgreSQL restarted mid-run: workers and LISTEN connections recover by themselves, nothing is lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bakeoff.testing.faults import private_server, run_restart_trial

JOBS = 200


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_postgresql_restart_mid_run_loses_nothing_and_every_arm_resumes() -> None:
    """`pg_ctl restart -m fast` of a private embedded server after 40% of a 200-job run on all arms.

    Every routed job ends terminal without any manual step, no document is saved twice, and every
    arm finishes a job submitted after the restart (its time to recovery is measured and printed).
    Submits during the restart may raise SubmitFailed; they are not routed, so they are not counted.
    """
    # Not under pytest's tmp_path: as root the server runs as an unprivileged user, which cannot
    # enter pytest's 0700 base folder; a short path also keeps the unix socket under its length limit.
    with tempfile.TemporaryDirectory(prefix="bk-faults-pg-") as folder:
        data_dir = Path(folder)
        with private_server(data_dir) as url:
            rows = run_restart_trial(data_dir, url, jobs=JOBS, weights=(0.05, 0.475, 0.475))

    for row in rows:
        print(
            f"{row.arm}: {row.jobs} jobs, recovery {row.recovery_seconds}s,"
            f" {row.submit_failures} failed submits"
        )
    assert [p for row in rows for p in row.problems()] == []
    assert sum(row.jobs for row in rows) + rows[0].submit_failures == JOBS
    assert [row.lost for row in rows] == [0, 0, 0]
    assert all(row.recovery_seconds is not None for row in rows), (
        "every arm must work again after the restart"
    )
