"""``bakeoff inngest``: the run history in the terminal (the observability the seed credits Inngest with).

``bakeoff inngest runs [--status S] [--fn ID]`` lists recent runs; ``bakeoff inngest run RUN_ID``
prints one run's timeline: every step and every attempt, with the queue delay (waiting for a
worker, or for a retry/sleep to come due) next to the execution time, then the output or error.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.models import Attempt, Run, RunStatus, StepRecord
from bakeoff.cli import CliContext, pass_cli

__all__ = ["inngest", "render_run", "render_runs"]

STATUS_STYLE = {
    "queued": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}
BAR_WIDTH = 30


def _ms(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    ms = delta.total_seconds() * 1000
    return f"{ms:,.1f} ms" if ms < 10_000 else f"{ms / 1000:,.2f} s"


def _time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S.%f")[:-3] if at else "-"


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _client(cli: CliContext) -> Inngest:
    return Inngest(app_id="bakeoff-cli", database_url=cli.database_url())


def render_runs(rows: list[dict[str, Any]]) -> Table:
    """The runs list as a table."""
    table = Table(title="inngest runs", show_lines=False)
    table.add_column("run id", no_wrap=True)
    for column in ("function", "status", "steps", "created", "duration", "error"):
        table.add_column(column)
    for row in rows:
        duration = row["ended_at"] - row["started_at"] if row["ended_at"] and row["started_at"] else None
        error = (row["error"] or {}).get("message", "") if row["error"] else ""
        table.add_row(
            str(row["run_id"]), row["fn_id"], _status(row["status"]), str(row["step_count"]),
            row["created_at"].strftime("%Y-%m-%d %H:%M:%S"), _ms(duration), error[:60],
        )  # fmt: skip
    return table


def _bar(start: datetime, end: datetime, origin: datetime, span: float, style: str) -> Text:
    left = int((start - origin).total_seconds() / span * BAR_WIDTH) if span else 0
    width = max(1, int((end - start).total_seconds() / span * BAR_WIDTH)) if span else 1
    left = min(left, BAR_WIDTH - 1)
    return Text(" " * left) + Text("█" * min(width, BAR_WIDTH - left), style=style)


def _attempt_rows(run: Run) -> list[tuple[str, Attempt | StepRecord]]:
    """Attempts in order, plus waiting/sleeping steps (which have no attempt of their own)."""
    rows: list[tuple[str, Attempt | StepRecord]] = [(a.step_key or "(function)", a) for a in run.attempts]
    rows += [(s.step_key, s) for s in run.steps if s.op != "StepRun" and s.started_at]
    return sorted(rows, key=lambda r: r[1].started_at or run.created_at)


def render_run(run: Run) -> Table:
    """One run's timeline: a row per attempt (and per sleep/wait), with queue delay and execution time."""
    end = run.ended_at or max((a.ended_at for a in run.attempts), default=run.created_at)
    span = max((end - run.created_at).total_seconds(), 1e-6)
    table = Table(title=f"run {run.run_id}  {run.fn_id}  [{STATUS_STYLE[run.status]}]{run.status}[/]")
    for column in ("step", "attempt", "started", "queue delay", "execution", "timeline", "result"):
        table.add_column(column)
    for name, entry in _attempt_rows(run):
        if isinstance(entry, Attempt):
            result = Text("ok", style="green") if entry.ok else Text(_error_text(entry.error), style="red")
            bar = _bar(entry.started_at, entry.ended_at, run.created_at, span, "green" if entry.ok else "red")
            table.add_row(
                name, str(entry.attempt + 1), _time(entry.started_at), _ms(entry.queue_delay),
                _ms(entry.duration), bar, result,
            )  # fmt: skip
        else:
            finish = entry.ended_at or end
            assert entry.started_at is not None
            bar = _bar(entry.started_at, finish, run.created_at, span, "blue")
            table.add_row(
                name, "-", _time(entry.started_at), "-", _ms(finish - entry.started_at), bar,
                Text(f"{entry.op} ({entry.status})", style="blue"),
            )  # fmt: skip
    return table


def _error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return "error"
    return f"{error.get('name', 'Error')}: {error.get('message', '')}"[:80]


def _summary(run: Run) -> list[str]:
    queued = run.started_at - run.created_at if run.started_at else None
    total = run.ended_at - run.created_at if run.ended_at else None
    lines = [
        f"event      {run.event.name}  id={run.event.id}",
        f"created    {_time(run.created_at)}   started {_time(run.started_at)}   ended {_time(run.ended_at)}",
        f"queued     {_ms(queued)}   total {_ms(total)}   steps {run.step_count}",
    ]
    if run.status is RunStatus.COMPLETED:
        lines.append(f"output     {json.dumps(run.output, default=str)[:300]}")
    if run.error:
        lines.append(f"error      {_error_text(run.error)}")
    return lines


@click.group()
def inngest() -> None:
    """The inngest arm's run history: runs, steps, attempts."""


@inngest.command("runs")
@click.option(
    "--status",
    type=click.Choice([s.value for s in RunStatus]),
    default=None,
    help="Only runs in this status.",
)
@click.option("--fn", "fn_id", default=None, help="Only runs of this function id.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_cli
def runs(cli: CliContext, status: str | None, fn_id: str | None, limit: int) -> None:
    """List recent runs, newest first."""
    client = _client(cli)
    try:
        rows = client.list_runs(status=status, fn_id=fn_id, limit=limit)
    finally:
        client.close()
    Console().print(render_runs(rows))


@inngest.command("run")
@click.argument("run_id")
@pass_cli
def run(cli: CliContext, run_id: str) -> None:
    """Show one run's timeline: steps, attempts, queue delay vs execution time."""
    try:
        UUID(run_id)
    except ValueError as exc:
        raise click.BadParameter(f"{run_id!r} is not a valid run id (a UUID)", param_hint="RUN_ID") from exc
    client = _client(cli)
    try:
        found = client.get_run(run_id)
    except KeyError as exc:
        raise click.ClickException(f"no run {run_id}") from exc
    finally:
        client.close()
    console = Console()
    for line in _summary(found):
        console.print(line, highlight=False)
    console.print(render_run(found))
