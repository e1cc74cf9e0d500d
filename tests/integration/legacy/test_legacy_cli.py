"""The `bakeoff legacy` commands on a real database, with a real child for process-one."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakeoff.cli import cli


def _run(database_url: str, *args: str) -> tuple[int, str]:
    """Exit code and output of one command; an error the CLI's main() would print is in the output."""
    result = CliRunner().invoke(cli, ["--database-url", database_url, "legacy", *args])
    error = f"{result.exception}" if result.exception is not None else ""
    return result.exit_code, result.output + error


def test_submit_process_one_jobs_retry_and_reap_from_the_command_line(database_url: str) -> None:
    """An operator's session: enqueue, run one, list, refuse a bad retry, reap nothing fresh."""
    code, output = _run(database_url, "submit", "http://127.0.0.1:9/a", "--handler", "noop")
    assert code == 0
    job_id = output.strip()

    code, output = _run(database_url, "process-one", "--no-crash-after-complete")
    assert code == 0 and job_id in output and "COMPLETED" in output and "exit=0" in output

    code, output = _run(database_url, "jobs", "--json")
    listed = json.loads(output)
    assert code == 0 and [(j["id"], j["status"], j["attempt"]) for j in listed] == [(job_id, "COMPLETED", 1)]

    code, output = _run(database_url, "retry", job_id)
    assert code != 0 and "only FAILED jobs can be retried" in output

    code, output = _run(database_url, "reap", "--older-than", "10m")
    assert code == 0 and "reaped 0 job(s)" in output

    code, output = _run(database_url, "process-one")
    assert code == 0 and "no PENDING job" in output
