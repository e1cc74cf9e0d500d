"""`bakeoff pgboss`: install, queues, stats, jobs, retry, redrive and supervise from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakeoff.backends.pgboss import PgBoss
from bakeoff.cli import cli


def run(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--database-url", url, "pgboss", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_installs_lists_and_repairs(shared_database: str, fresh_schema: str, queue: str) -> None:
    """The commands act on the schema named by --schema and print JSON or a one-line summary."""
    assert "version 46" in run(shared_database, "install", "--schema", fresh_schema)
    dlq = f"{queue}-dlq"
    with PgBoss(shared_database, schema=fresh_schema, supervise=False, schedule=False) as boss:
        boss.create_queue(dlq)
        boss.create_queue(queue, retry_limit=0, dead_letter=dlq)
        failed = boss.send(queue, {"n": 1}, singleton_key="k")
        boss.fail(queue, boss.fetch(queue))
    listed = {
        row["name"]: row for row in json.loads(run(shared_database, "queues", "--schema", fresh_schema))
    }
    assert listed[queue]["failed_count"] == 1
    assert json.loads(run(shared_database, "stats", queue, "--schema", fresh_schema))["total_count"] == 1
    (job,) = json.loads(run(shared_database, "jobs", queue, "--key", "k", "--schema", fresh_schema))
    assert (job["id"], job["state"]) == (failed, "failed")
    assert "retried 1 of 1" in run(shared_database, "retry", queue, str(failed), "--schema", fresh_schema)
    assert "redrove 1 job(s)" in run(shared_database, "redrive", dlq, "--schema", fresh_schema)
    assert "supervised" in run(shared_database, "supervise", "--schema", fresh_schema)
