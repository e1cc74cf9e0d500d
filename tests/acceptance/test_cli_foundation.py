"""The real ``bakeoff`` CLI in a subprocess: db commands, export, observe and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_version_and_help() -> None:
    result = run(["--version"])
    assert result.returncode == 0
    assert "bakeoff" in result.stdout
    for command in (["db", "--help"], ["export", "--help"], ["observe", "--help"]):
        assert run(command).returncode == 0


def test_db_commands_against_a_database(database_url: str) -> None:
    env = {"BAKEOFF_DATABASE_URL": database_url}
    upgraded = run(["db", "upgrade"], env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    status = run(["db", "status"], env=env)
    assert status.returncode == 0, status.stderr
    assert "external" in status.stdout
    assert "pending:  none" in status.stdout


def test_export_and_observe(database_url: str, tmp_path: Path) -> None:
    env = {"BAKEOFF_DATABASE_URL": database_url}
    observed = run(["observe", "--arm", "pgboss", "--kind", "debugging_minutes", "--value", "30"], env=env)
    assert observed.returncode == 0, observed.stderr
    out = tmp_path / "trial.csv"
    exported = run(["export", "--out", str(out)], env=env)
    assert exported.returncode == 0, exported.stderr
    assert out.read_text().startswith("trial_job_id,experiment,phase,")


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["nosuch"], {}, "No such command"),
        (
            ["db", "status"],
            {"BAKEOFF_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x"},
            "cannot connect",
        ),
        (["db", "status"], {"BAKEOFF_DATABASE_URL": "mysql://u@h/x"}, "needs PostgreSQL"),
        (["db", "url"], {"BAKEOFF_DATABASE_URL": "", "BAKEOFF_DATA_DIR": "/proc/bakeoff"}, "data dir"),
        (["observe", "--arm", "nosuch", "--kind", "satisfaction", "--value", "3"], {}, "--arm"),
    ],
)
def test_bad_input_gives_one_clear_line(args: list[str], env: dict[str, str], fragment: str) -> None:
    result = run(args, env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
