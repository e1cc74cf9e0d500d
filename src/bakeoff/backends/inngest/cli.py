"""``bakeoff inngest``: the run history in the terminal (the observability the seed credits Inngest with),
and ``bakeoff inngest serve``, the server that runs functions written with Inngest's official SDKs.

``bakeoff inngest runs [--status S] [--fn ID]`` lists recent runs; ``bakeoff inngest run RUN_ID``
prints one run's timeline: every step and every attempt, with the queue delay (waiting for a
worker, or for a retry/sleep to come due) next to the execution time, then the output or error.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.models import Attempt, Run, RunStatus, StepRecord
from bakeoff.cli import CliContext, http_url, listening_socket, pass_cli

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
    # Steps of functions served over HTTP are keyed by the SDK's hashed id: show their readable id.
    names = {s.step_key: s.step_id for s in run.steps if ":" not in s.step_key}
    rows: list[tuple[str, Attempt | StepRecord]] = [
        (names.get(a.step_key, a.step_key) if a.step_key else "(function)", a) for a in run.attempts
    ]
    rows += [(names.get(s.step_key, s.step_key), s) for s in run.steps if s.op != "StepRun" and s.started_at]
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
    """The inngest arm: run history (runs, run) and the SDK-compatible server (serve)."""


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


@inngest.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8288, show_default=True, help="0: any free port."
)
@click.option(
    "-u", "--sdk-url", "sdk_urls", multiple=True, help="Sync the app served at this URL (as inngest dev -u)."
)
@click.option(
    "--retry-interval",
    type=click.IntRange(min=1),
    default=None,
    help="Retry every N seconds (as inngest dev --retry-interval); default: Inngest's backoff table.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=8, show_default=True, help="Worker threads."
)
@click.option(
    "--step-timeout",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="Seconds per call.",
)
@click.option(
    "--signing-key",
    envvar="INNGEST_SIGNING_KEY",
    default=None,
    help="Production mode: sign requests to apps, verify answers and SDK calls (env INNGEST_SIGNING_KEY).",
)
@click.option(
    "--event-key",
    envvar="INNGEST_EVENT_KEY",
    default=None,
    help="Only this key may send events to POST /e/{key} (env INNGEST_EVENT_KEY).",
)
@pass_cli
def serve(
    cli: CliContext,
    host: str,
    port: int,
    sdk_urls: tuple[str, ...],
    retry_interval: int | None,
    concurrency: int,
    step_timeout: float,
    signing_key: str | None,
    event_key: str | None,
) -> None:
    """Run functions written with Inngest's official SDKs: a dev server on the engine's tables."""
    import uvicorn

    from bakeoff.backends.inngest.server import InngestServer, create_app
    from bakeoff.db.migrate import upgrade
    from bakeoff.db.urls import mask_url

    listener = listening_socket(host, port)  # a port in use fails here, before anything is printed
    url = http_url(host, listener.getsockname()[1])
    upgrade(cli.engine())
    server = InngestServer(
        cli.database_url(), retry_interval=retry_interval, concurrency=concurrency, step_timeout=step_timeout,
        signing_key=signing_key, event_key=event_key,
    ).start()  # fmt: skip
    console = Console(stderr=True)
    if server.signing_key is None:
        mode = f"dev mode: no signing key or event key needed; point an app at it with INNGEST_DEV={url}"
    else:
        mode = (
            "production mode: requests to apps are signed, their answers and SDK calls verified; "
            f"apps need INNGEST_SIGNING_KEY and INNGEST_BASE_URL={url}"
        )
    console.print(
        f"bakeoff inngest serve on {url}  database {mask_url(cli.database_url())}\n{mode}",
        highlight=False,
    )
    if sdk_urls:
        # The socket already listens: an app's registration call waits in its backlog for uvicorn.
        threading.Thread(target=_sync_apps, args=(server, sdk_urls, console), daemon=True).start()
    try:
        uvicorn.run(create_app(server), fd=listener.fileno(), log_level="warning", access_log=False)
    finally:
        server.stop()


def _sync_apps(server: Any, urls: tuple[str, ...], console: Console, attempts: int = 30) -> None:
    """Sync each ``-u`` app, retrying every 2 s while it is not up yet (as inngest dev polls)."""
    from bakeoff.backends.inngest.server import SyncFailed

    for url in urls:
        for attempt in range(attempts):
            try:
                server.sync_app(url)
            except SyncFailed as exc:
                if attempt == attempts - 1:
                    console.print(f"[red]could not sync {url}[/]: {exc}")
                time.sleep(2)
                continue
            console.print(f"synced {url}", highlight=False)
            break
