"""``bakeoff legacy``: run the legacy arm's processors and its manual tools (retry, reap, jobs).

bakeoff legacy process-one            claim one PENDING job, run it, exit (the single processor)
bakeoff legacy loop                   poll and run one job at a time until Ctrl-C
bakeoff legacy adaptive               scale child processes with the backlog until Ctrl-C
bakeoff legacy retry JOB_ID           a new PENDING row for a FAILED job (original_job_id)
bakeoff legacy reap --older-than 10m  fail RUNNING rows whose worker died (worker_lost)
bakeoff legacy jobs                   the newest jobs
bakeoff legacy submit URL             enqueue a job outside the trial (no router, no metrics)
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from bakeoff.backends.legacy.adapter import LegacyBackend
from bakeoff.backends.legacy.processors import process_one
from bakeoff.backends.legacy.store import JobStatus, LegacyJob
from bakeoff.cli import CliContext, echo_json, pass_cli
from bakeoff.contract import InvalidRequest, validate_http_url

__all__ = ["legacy", "parse_duration"]

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``30s``, ``10m``, ``2h`` or ``1d`` as a timedelta; raise InvalidRequest otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidRequest(f"older_than must look like 90, 30s, 10m, 2h or 1d; got {text!r}")
    return timedelta(seconds=float(match["value"]) * _UNIT_SECONDS[match["unit"] or "s"])


def _runner_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The pain-point switches every processor command takes (defaults reproduce today's system)."""
    options = [
        click.option(
            "--poll-interval", type=float, default=1.0, show_default=True, help="Seconds between polls."
        ),
        click.option(
            "--crash-after-complete/--no-crash-after-complete",
            default=True,
            show_default=True,
            help="Children exit 1 after success, as today.",
        ),
        click.option(
            "--spawn-per-job/--in-process",
            default=True,
            show_default=True,
            help="One fresh Python process per job, or run the handler in this process.",
        ),
        click.option(
            "--stdout-protocol",
            type=click.Choice(["strict", "lenient"]),
            default="strict",
            show_default=True,
            help="What a malformed stdout line does: fail the job, or be ignored.",
        ),
        click.option("--auto-retry", type=click.IntRange(min=0), default=0, show_default=True),
        click.option(
            "--job-timeout", type=float, default=600.0, show_default=True, help="Seconds per child."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _backend(cli: CliContext, **options: Any) -> LegacyBackend:
    from bakeoff.workload.models import ImportSettings

    settings = ImportSettings(allow_hosts=cli.settings.import_allow_hosts)
    return LegacyBackend(cli.engine(), import_settings=settings, **options)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _job_dict(job: LegacyJob) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status.value,
        "handler": job.handler,
        "url": job.url,
        "attempt": job.attempt,
        "original_job_id": str(job.original_job_id) if job.original_job_id else None,
        "trial_job_id": str(job.trial_job_id) if job.trial_job_id else None,
        "worker_id": job.worker_id,
        "exit_code": job.exit_code,
        "error_kind": job.error_kind,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _echo_job(job: LegacyJob) -> None:
    line = f"{job.id}  {job.status.value:<9}  attempt {job.attempt}  {job.handler}  {job.url}"
    if job.exit_code is not None:
        line += f"  exit={job.exit_code}"
    if job.error_kind:
        line += f"  {job.error_kind}: {(job.error or '')[:80]}"
    click.echo(line)


@click.group()
def legacy() -> None:
    """The legacy arm: the home-made job table, polling processors, one process per job."""


@legacy.command("process-one")
@_runner_options
@pass_cli
def process_one_command(cli: CliContext, /, poll_interval: float, **options: Any) -> None:
    """Claim the oldest PENDING job, run it in a child process, and exit."""
    backend = _backend(cli, poll_interval=poll_interval, processor="single", **options)
    job = process_one(backend.runner)
    if job is None:
        click.echo("no PENDING job")
        return
    finished = backend.store.get(job.id)
    _echo_job(finished or job)


@legacy.command()
@_runner_options
@click.option("--max-jobs", type=click.IntRange(min=1), default=None, help="Exit after this many jobs.")
@pass_cli
def loop(cli: CliContext, /, poll_interval: float, max_jobs: int | None, **options: Any) -> None:
    """Poll every --poll-interval seconds and run one job at a time, until Ctrl-C."""
    backend = _backend(cli, poll_interval=poll_interval, processor="loop", **options)
    ran = backend.loop().run(_stop_on_signals(), max_jobs=max_jobs)
    click.echo(f"loop processor stopped after {ran} job(s)")


@legacy.command()
@_runner_options
@click.option("--min-workers", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--max-workers", type=click.IntRange(min=1), default=4, show_default=True)
@pass_cli
def adaptive(
    cli: CliContext, /, poll_interval: float, min_workers: int, max_workers: int, **options: Any
) -> None:
    """Scale child processes between --min-workers and --max-workers with the backlog, until Ctrl-C."""
    backend = _backend(
        cli,
        poll_interval=poll_interval,
        processor="adaptive",
        min_workers=min_workers,
        max_workers=max_workers,
        **options,
    )
    processor = backend.adaptive()
    processor.run(_stop_on_signals())
    peak = max((step.workers for step in processor.history), default=0)
    click.echo(f"adaptive processor stopped (peak {peak} worker(s))")


@legacy.command()
@click.argument("job_id")
@pass_cli
def retry(cli: CliContext, /, job_id: str) -> None:
    """Retry a FAILED job: a new PENDING row pointing at it (original_job_id)."""
    retry_id = _backend(cli).retry(job_id)
    click.echo(f"{retry_id}  PENDING  retry of {job_id}")


@legacy.command()
@click.option(
    "--older-than", "older_than", required=True, help="Age of a RUNNING row to reap: 90, 30s, 10m, 2h."
)
@pass_cli
def reap(cli: CliContext, /, older_than: str) -> None:
    """Mark RUNNING jobs older than --older-than as FAILED (worker_lost): their worker died."""
    reaped = _backend(cli).reap(parse_duration(older_than))
    for job in reaped:
        click.echo(f"{job.id}  FAILED  worker_lost")
    click.echo(f"reaped {len(reaped)} job(s)")


@legacy.command()
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), default=None)
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def jobs(cli: CliContext, /, status: str | None, limit: int, as_json: bool) -> None:
    """The newest legacy jobs."""
    found = _backend(cli).store.recent(limit=limit, status=JobStatus(status) if status else None)
    if as_json:
        echo_json([_job_dict(job) for job in found])
        return
    for job in found:
        _echo_job(job)


@legacy.command()
@click.argument("url")
@click.option(
    "--handler", default="import_article", show_default=True, help="import_article, noop, sleep:<ms>, ..."
)
@pass_cli
def submit(cli: CliContext, /, url: str, handler: str) -> None:
    """Enqueue one job directly (outside the trial: no routing, no metrics)."""
    validate_http_url(url)
    backend = _backend(cli, handler=handler)
    click.echo(str(backend.store.insert(url=url, handler=backend.handler)))
