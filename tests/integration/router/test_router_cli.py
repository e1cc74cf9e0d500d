"""The ``bakeoff experiment`` and ``bakeoff route`` commands: in-process through ``bakeoff.cli.main``
(fast, same code path and error handling), and ``route`` once more in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from router_support import MakeRouter, rows
from sqlalchemy import Engine

from bakeoff.cli import main
from bakeoff.contract import ImportRequest

Result = subprocess.CompletedProcess[str]

FAKE_FACTORY = "bakeoff.testing:router_fake_backend"


def bakeoff_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def bakeoff(database_url: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``bakeoff --database-url URL ARGS...`` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--database-url", database_url, *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_experiment_commands_create_show_reweight_kill_and_revive(bakeoff: Callable[..., Result]) -> None:
    """create -> weights (new phase) -> kill -> revive -> show, each printing the stored state."""
    created = ok_json(bakeoff("experiment", "create", "--weights", "2,1,1"))
    assert (created["phase"], created["weights"]["legacy"], created["salt"]) == (1, 2.0, "article-import")
    reweighted = ok_json(bakeoff("experiment", "weights", "legacy=1", "pgboss=1", "inngest=2"))
    assert (reweighted["phase"], reweighted["salt"]) == (2, "article-import:p2")
    assert [p["phase"] for p in reweighted["phases"]] == [1, 2]
    assert ok_json(bakeoff("experiment", "kill", "inngest"))["killed_arms"] == ["inngest"]
    revived = ok_json(bakeoff("experiment", "revive", "inngest"))
    assert (revived["killed_arms"], revived["phase"]) == ([], 2)
    shown = ok_json(bakeoff("experiment", "show"))
    assert shown["weights"] == {"legacy": 1.0, "pgboss": 1.0, "inngest": 2.0}


def test_experiment_bad_input_is_one_line_naming_the_problem_and_changes_nothing(
    bakeoff: Callable[..., Result],
) -> None:
    """Negative weights and an unknown arm: exit 1, a one-line error, the experiment unchanged."""
    ok_json(bakeoff("experiment", "create"))
    negative = bakeoff("experiment", "weights", "legacy=1", "pgboss=-1", "inngest=1")
    assert negative.returncode == 1 and "'pgboss' must be a finite number >= 0" in negative.stderr
    unknown = bakeoff("experiment", "kill", "nosuch")
    assert unknown.returncode == 1 and "'nosuch' is not an arm" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    shown = ok_json(bakeoff("experiment", "show"))
    assert (shown["phase"], shown["killed_arms"]) == (1, [])


def test_route_prints_the_submission_and_enqueues_on_the_served_arm(
    bakeoff: Callable[..., Result], engine: Engine
) -> None:
    """bakeoff route URL --unit --arm builds only the served arm and prints the Submission as JSON."""
    url = "https://articles.example/route-1"
    hashed = ok_json(bakeoff("route", url, "--unit", "user-42", "--backend-factory", FAKE_FACTORY))
    assert (hashed["assigned_arm"], hashed["reason"], hashed["phase"]) == ("pgboss", "hash", 1)
    pinned = ok_json(
        bakeoff(
            "route",
            url,
            "--arm",
            "inngest",
            "--idempotency-key",
            "k",
            "--backend-factory",
            FAKE_FACTORY,
        )
    )
    assert (pinned["served_arm"], pinned["reason"], pinned["duplicate"]) == ("inngest", "override", False)
    again = ok_json(bakeoff("route", url, "--idempotency-key", "k", "--backend-factory", FAKE_FACTORY))
    assert again["duplicate"] is True and again["trial_job_id"] == pinned["trial_job_id"]
    jobs = rows(engine, "SELECT arm, trial_job_id FROM public.router_fake_jobs ORDER BY job_id")
    assert [(j.arm, str(j.trial_job_id)) for j in jobs] == [
        ("pgboss", hashed["trial_job_id"]),
        ("inngest", pinned["trial_job_id"]),
    ]


def test_route_refuses_a_bad_url_before_touching_anything(
    bakeoff: Callable[..., Result], engine: Engine
) -> None:
    """A non-http URL is a one-line error naming the field; nothing is written."""
    result = bakeoff("route", "ftp://x/y", "--backend-factory", FAKE_FACTORY)
    assert result.returncode == 1 and "url must use http or https" in result.stderr
    assert rows(engine, "SELECT count(*) AS n FROM bakeoff.trial_jobs")[0].n == 0


def test_the_real_commands_in_a_subprocess_and_their_state_reaching_this_process(
    database_url: str, engine: Engine, make_router: MakeRouter
) -> None:
    """`python -m bakeoff route` prints the Submission as JSON and commits the job; a kill made by
    `python -m bakeoff experiment kill` in another process applies to this process's next submit."""
    router = make_router()
    result = bakeoff_process(
        database_url,
        "route",
        "https://articles.example/p",
        "--unit",
        "user-42",
        "--backend-factory",
        FAKE_FACTORY,
    )
    submission = ok_json(result)
    assert (submission["assigned_arm"], submission["served_arm"], submission["reason"]) == (
        "pgboss",
        "pgboss",
        "hash",
    )
    [job] = rows(engine, "SELECT arm, trial_job_id FROM public.router_fake_jobs")
    assert (job.arm, str(job.trial_job_id)) == ("pgboss", submission["trial_job_id"])
    assert ok_json(bakeoff_process(database_url, "experiment", "kill", "pgboss"))["killed_arms"] == ["pgboss"]
    here = router.submit(ImportRequest(url="https://articles.example/q", unit_key="user-42"))
    assert (here.assigned_arm, here.served_arm, here.reason) == ("pgboss", "legacy", "killed")
