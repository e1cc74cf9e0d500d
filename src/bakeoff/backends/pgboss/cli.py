"""``bakeoff pgboss``: inspect and operate the pgboss arm's pg-boss schema from a shell.

bakeoff pgboss install [--schema S]       install pg-boss 12's schema (or check an existing one)
bakeoff pgboss queues                     every queue with its settings and live counts
bakeoff pgboss stats QUEUE                live counts of one queue
bakeoff pgboss jobs QUEUE [--key K]       the queue's jobs (optionally one singleton key)
bakeoff pgboss retry QUEUE JOB_ID...      give failed jobs one more attempt
bakeoff pgboss redrive DLQ [--to QUEUE]   move dead letters back to their source queue
bakeoff pgboss supervise [QUEUE]          run expiry, heartbeat and retention now
bakeoff pgboss work [--concurrency N]     run the arm's import workers until Ctrl-C
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.backends.pgboss.models import SCHEMA_VERSION
from bakeoff.cli import CliContext, echo_json, pass_cli

__all__ = ["pgboss"]


@contextmanager
def _boss(cli: CliContext, schema: str) -> Iterator[PgBoss]:
    boss = PgBoss(cli.database_url(), schema=schema, supervise=False, schedule=False, use_listen_notify=False)
    boss.start()
    try:
        yield boss
    finally:
        boss.stop(timeout=1)


def _schema_option(command: Any) -> Any:
    return click.option("--schema", default="pgboss", show_default=True, help="pg-boss schema.")(command)


@click.group()
def pgboss() -> None:
    """The pgboss arm: pg-boss 12.38 (schema version 46) in Python."""


@pgboss.command()
@_schema_option
@pass_cli
def install(cli: CliContext, /, schema: str) -> None:
    """Install pg-boss's schema, or check that an existing one is at version 46."""
    with _boss(cli, schema):
        click.echo(f"pg-boss schema {schema} is at version {SCHEMA_VERSION}")


@pgboss.command()
@_schema_option
@pass_cli
def queues(cli: CliContext, /, schema: str) -> None:
    """Every queue with its settings and live counts (JSON)."""
    with _boss(cli, schema) as boss:
        rows = []
        for queue in boss.get_queues():
            row = dataclasses.asdict(queue)
            row.update(dataclasses.asdict(boss.get_queue_stats(queue.name)))
            rows.append(row)
    echo_json(rows)


@pgboss.command()
@click.argument("queue")
@_schema_option
@pass_cli
def stats(cli: CliContext, /, queue: str, schema: str) -> None:
    """Live counts of one queue (JSON)."""
    with _boss(cli, schema) as boss:
        echo_json(dataclasses.asdict(boss.get_queue_stats(queue)))


@pgboss.command()
@click.argument("queue")
@click.option("--key", default=None, help="Only jobs with this singleton key.")
@click.option("--queued", is_flag=True, help="Only jobs not yet started.")
@_schema_option
@pass_cli
def jobs(cli: CliContext, /, queue: str, key: str | None, queued: bool, schema: str) -> None:
    """The queue's jobs, oldest first (JSON)."""
    with _boss(cli, schema) as boss:
        echo_json([dataclasses.asdict(job) for job in boss.find_jobs(queue, key=key, queued=queued)])


@pgboss.command()
@click.argument("queue")
@click.argument("job_ids", nargs=-1, required=True)
@_schema_option
@pass_cli
def retry(cli: CliContext, /, queue: str, job_ids: tuple[str, ...], schema: str) -> None:
    """Give failed jobs one more attempt."""
    with _boss(cli, schema) as boss:
        result = boss.retry(queue, list(job_ids))
    click.echo(f"retried {result.affected} of {result.requested}")


@pgboss.command()
@click.argument("dead_letter_queue")
@click.option("--to", "destination", default=None, help="Destination queue (default: each job's source).")
@click.option("--limit", default=1000, show_default=True, type=int)
@_schema_option
@pass_cli
def redrive(
    cli: CliContext, /, dead_letter_queue: str, destination: str | None, limit: int, schema: str
) -> None:
    """Move queued dead letters back to their source queue as new jobs."""
    with _boss(cli, schema) as boss:
        moved = boss.redrive(dead_letter_queue, destination, limit=limit)
    click.echo(f"redrove {moved} job(s)")


@pgboss.command()
@click.argument("queue", required=False)
@_schema_option
@pass_cli
def supervise(cli: CliContext, /, queue: str | None, schema: str) -> None:
    """Run monitoring (expiry, heartbeats, counts) and maintenance (retention) now."""
    with _boss(cli, schema) as boss:
        boss.supervise(queue)
    click.echo("supervised")


@pgboss.command()
@click.option("--concurrency", default=4, show_default=True, type=int, help="Worker loops.")
@click.option("--polling-interval", default=2.0, show_default=True, type=float)
@pass_cli
def work(cli: CliContext, /, concurrency: int, polling_interval: float) -> None:
    """Run the arm's import workers until Ctrl-C (outcomes recorded in the trial's metrics)."""
    from bakeoff.backends.pgboss.adapter import PgBossBackend
    from bakeoff.workload.models import ImportSettings

    settings = ImportSettings(allow_hosts=cli.settings.import_allow_hosts)
    backend = PgBossBackend(cli.engine(), import_settings=settings, polling_interval_seconds=polling_interval)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"pgboss workers x{concurrency} on queue {backend.queue}; Ctrl-C to stop")
    backend.run_workers(concurrency=concurrency, stop=stop)
