"""``bakeoff demo``, ``bakeoff worker`` and ``bakeoff stress``: running the trial."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from bakeoff.cli import CliContext, pass_cli
from bakeoff.contract import ARM_NAMES
from bakeoff.trial import DEMO_INNGEST_RETRY_INTERVAL
from bakeoff.workload.faults import PROFILES


def _arms_option(value: str) -> tuple[str, ...]:
    arms = tuple(a.strip() for a in value.split(",") if a.strip())
    unknown = [a for a in arms if a not in ARM_NAMES]
    if unknown or not arms:
        raise click.BadParameter(
            f"unknown arm(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ARM_NAMES)}"
        )
    return arms


def _progress_table(progress: dict[str, Any], submitted: int, total: int) -> Table:
    table = Table(title=f"bakeoff demo: {submitted}/{total} routed", title_justify="left")
    for column in ("arm", "submitted", "finished", "completed", "failed"):
        table.add_column(column, justify="right" if column != "arm" else "left")
    for arm in ARM_NAMES:
        p = progress.get(arm)
        table.add_row(arm, *(str(getattr(p, c, 0)) for c in ("submitted", "finished", "completed", "failed")))
    return table


def _summary_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="per arm", title_justify="left")
    for column in ("arm", "assigned", "completed", "failed", "open", "failure rate", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "arm" else "right")

    def fmt(value: Any, pattern: str = "{:.0f}") -> str:
        return "-" if value is None else pattern.format(value)

    for r in rows:
        table.add_row(
            r["arm"],
            fmt(r["assigned"]),
            fmt(r["completed"]),
            fmt(r["failed"]),
            fmt(r["open"]),
            fmt(r["failure_rate"], "{:.1%}"),
            fmt(r["p50_ms"]),
            fmt(r["p95_ms"]),
        )
    return table


@click.command()
@click.option(
    "--imports", type=click.IntRange(1, 100_000), default=300, show_default=True, help="Imports to route."
)
@click.option(
    "--rate", type=click.FloatRange(0.01, 1000), default=8.0, show_default=True, help="Imports per second."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the corpus, faults and arrivals."
)
@click.option(
    "--profile", type=click.Choice(PROFILES), default="realistic", show_default=True, help="Article faults."
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bakeoff-demo"), show_default=True
)
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Workers per arm."
)
@click.option(
    "--deadline", type=click.FloatRange(1, 86_400), default=180.0, show_default=True, help="Seconds to wait."
)
@click.option(
    "--aa", is_flag=True, help="A/A run: all three arms served by one backend; must find no winner."
)
@click.option("--aa-backend", type=click.Choice(ARM_NAMES), default="pgboss", show_default=True)
@click.option(
    "--inngest-retry-interval",
    type=click.IntRange(0, 86_400),
    default=DEMO_INNGEST_RETRY_INTERVAL,
    show_default=True,
    help="Seconds between the inngest arm's retries, as `inngest dev --retry-interval`; "
    "0 keeps Inngest's default backoff (15 s, 30 s, 1 min, ... plus jitter).",
)
@click.option(
    "--inngest-transport",
    type=click.Choice(["in-process", "http"]),
    default="in-process",
    show_default=True,
    help="http: run the inngest arm through examples/inngest_import_app.py (Inngest's official SDK).",
)
@click.option("--latency-scale", type=click.FloatRange(0.0, 10.0), default=1.0, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON instead of tables.")
@click.option(
    "--serve",
    "serve_after",
    is_flag=True,
    help="After the report, serve the dashboard and API (bakeoff serve) on the demo's data until Ctrl-C.",
)
@click.option(
    "--serve-port", type=click.IntRange(0, 65535), default=8040, show_default=True, help="0: any free port."
)
@pass_cli
def demo(
    cli: CliContext,
    imports: int,
    rate: float,
    seed: int,
    profile: str,
    out: Path,
    concurrency: int,
    deadline: float,
    aa: bool,
    aa_backend: str,
    inngest_retry_interval: int,
    inngest_transport: str,
    latency_scale: float,
    as_json: bool,
    serve_after: bool,
    serve_port: int,
) -> None:
    """Run the whole trial end to end (embedded PostgreSQL by default) and print the verdict."""
    from bakeoff.trial.demo import DemoOptions, run_demo, summary_json
    from bakeoff.trial.runner import TrialConfig

    options = DemoOptions(
        trial=TrialConfig(
            imports=imports, rate=rate, seed=seed, concurrency=concurrency, deadline_seconds=deadline
        ),
        profile=profile,
        out=out,
        aa_backend=aa_backend if aa else None,
        latency_scale=latency_scale,
        inngest_retry_interval=inngest_retry_interval or None,
        inngest_transport=inngest_transport,
    )
    console = Console(stderr=as_json)
    engine = cli.engine()
    result = run_with_progress(
        console, imports, lambda on_progress: run_demo(engine, options, on_progress=on_progress), as_json
    )
    if as_json:
        click.echo(summary_json(result))
    else:
        print_outcome(console, result)
    if result.interrupted:
        raise SystemExit(130)
    if serve_after:
        from bakeoff.service.cli import serve_experiment

        serve_experiment(
            cli,
            engine,
            result.experiment,
            port=serve_port,
            announce=lambda url: click.echo(f"dashboard: {url}/ui"),
        )


def run_with_progress(
    console: Console, imports: int, run: Callable[[Callable[[Any, int], None]], Any], transient: bool
) -> Any:
    """``run(on_progress)`` under a live progress table; returns what ``run`` returns."""
    with Live(
        _progress_table({}, 0, imports), console=console, refresh_per_second=4, transient=transient
    ) as live:
        result = run(lambda progress, submitted: live.update(_progress_table(progress, submitted, imports)))
    if not transient:
        # Off a terminal (a pipe, CI) Live leaves its last table without a line end, so the next
        # table's title would continue its closing border line; on a terminal this is a blank line.
        console.line()
    return result


def print_outcome(console: Console, result: Any) -> None:
    """The demo's closing lines: the per-arm table, the verdict with its reasons and notes."""
    verdict = result.verdict
    console.print(_summary_table(result.arms_summary))
    winner = f" ({verdict.get('winner')})" if verdict.get("winner") else ""
    console.print(f"[bold]verdict: {verdict.get('status')}{winner}[/bold]")
    for line in (*verdict.get("reasons", []), *result.notes):
        console.print(f"  - {line}")
    if result.open_jobs:
        console.print(f"[yellow]{len(result.open_jobs)} jobs were not terminal at the deadline[/yellow]")
        for job in result.open_jobs[:10]:
            console.print(f"  {job['served_arm']}: {job['trial_job_id']} {job['url']}")
    if result.submit_errors:
        console.print(f"[red]{len(result.submit_errors)} submits failed[/red]")
    console.print(
        f"experiment {result.experiment}, {result.submitted} imports in {result.elapsed_seconds:.1f}s"
    )
    console.print(f"report: {result.report_paths['html']}")


@click.command()
@click.option("--arms", default=",".join(ARM_NAMES), show_default=True, help="Comma-separated arms to run.")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Workers per arm."
)
@click.option(
    "--inngest-retry-interval",
    type=click.IntRange(0, 86_400),
    default=0,
    show_default=True,
    help="Seconds between the inngest arm's retries, as a self-hosted `inngest start --retry-interval`; "
    "0 keeps Inngest's default backoff, the only one Inngest Cloud has.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics (read from the database per scrape) on this port; 0: any free port.",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address of --metrics-port.")
@click.option(
    "--inngest-app-url",
    default=None,
    help="Run the inngest arm's import as the function an app serves at this URL with Inngest's SDK "
    "(e.g. examples/inngest_import_app.py at http://127.0.0.1:8000/api/inngest).",
)
@click.option("--guard", is_flag=True, help="Also run the guardrail every 10 minutes (bakeoff guard).")
@pass_cli
def worker(
    cli: CliContext,
    arms: str,
    concurrency: int,
    inngest_retry_interval: int,
    metrics_port: int | None,
    metrics_host: str,
    inngest_app_url: str | None,
    guard: bool,
) -> None:
    """Run the chosen arms' workers until SIGTERM or Ctrl-C; one JSON line per finished job."""
    from bakeoff.backends import create_backend
    from bakeoff.db.migrate import upgrade
    from bakeoff.trial.runner import close_backends, run_arm_workers
    from bakeoff.workload.articles import ImportSettings

    chosen = _arms_option(arms)
    engine = cli.engine()
    upgrade(engine)
    _trace_attempts_if_configured()
    import_settings = ImportSettings.from_env()
    inngest_options: dict[str, Any] = {"retry_interval": inngest_retry_interval or None}
    if inngest_app_url:
        inngest_options.update(transport="http", app_url=inngest_app_url)
    backends = {
        arm: create_backend(
            arm, engine, import_settings=import_settings, **(inngest_options if arm == "inngest" else {})
        )
        for arm in chosen
    }
    stop, abandon = threading.Event(), threading.Event()

    def on_stop_signal(signum: int, frame: object) -> None:
        (abandon if stop.is_set() else stop).set()  # a second SIGINT or SIGTERM cuts the drain short

    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    started: dict[str, Any] = {"event": "worker_started", "arms": list(chosen), "concurrency": concurrency}
    metrics_server = None if metrics_port is None else _serve_metrics(engine, metrics_host, metrics_port)
    if metrics_server is not None:
        started["metrics_url"] = f"http://{metrics_host}:{metrics_server.server_port}/metrics"
    click.echo(json.dumps(started), err=True)
    if guard:
        from bakeoff.guard import start_guard_thread

        start_guard_thread(engine, stop)
    # The job log is entered first, so it is removed last: jobs that finish during the drain are logged.
    with (
        _job_lines_on_stdout(),
        run_arm_workers(
            backends, concurrency=concurrency, stop=threading.Event(), abandon=abandon
        ) as threads,
    ):
        while not stop.wait(0.5):
            pass
        # Said once the drain has begun, so a second signal is known to cut it short.
        click.echo(json.dumps({"event": "worker_draining", "arms": list(chosen)}), err=True)
    undrained = [thread.name for thread in threads if thread.is_alive()]
    close_backends(backends.values())  # after a cut-short drain this kills legacy children still running
    if metrics_server is not None:
        metrics_server.shutdown()
    click.echo(
        json.dumps({"event": "worker_stopped", "arms": list(chosen), "undrained": undrained}), err=True
    )
    if undrained:
        raise SystemExit(1)


def _trace_attempts_if_configured() -> None:
    """With OTEL_TRACES_EXPORTER set, each attempt becomes a span linked to its submit's."""
    if not os.environ.get("OTEL_TRACES_EXPORTER"):
        return  # tracing is off: load neither OpenTelemetry nor the service's telemetry
    from bakeoff.service.telemetry import configure_tracing

    if configure_tracing():
        from opentelemetry import trace

        from bakeoff.metrics.tracing import trace_attempts

        trace_attempts(trace.get_tracer_provider())


def _serve_metrics(engine: Any, host: str, port: int) -> Any:
    """Prometheus metrics of every experiment, computed from the database at each scrape."""
    from prometheus_client import start_http_server

    from bakeoff.service.metrics import metrics_registry

    try:
        server, _ = start_http_server(port, addr=host, registry=metrics_registry(engine))
    except OSError as exc:
        raise click.ClickException(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
    return server


class _JobLineFormatter(logging.Formatter):
    """A ``bakeoff.jobs`` record as one JSON line: ``{"event": "job_finished", ...the job's fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"event": "job_finished", **getattr(record, "job", {})}, default=str)


@contextmanager
def _job_lines_on_stdout() -> Iterator[None]:
    """Print every terminal outcome this process records (the recorder's job log) on stdout."""
    from bakeoff.metrics.recorder import JOB_LOGGER

    job_log = logging.getLogger(JOB_LOGGER)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JobLineFormatter())
    saved = job_log.level, job_log.propagate
    job_log.addHandler(handler)
    job_log.setLevel(logging.INFO)
    job_log.propagate = False  # the lines are the output, not diagnostics for stderr
    try:
        yield
    finally:
        job_log.removeHandler(handler)
        job_log.level, job_log.propagate = saved


@click.group()
def stress() -> None:
    """Stress workloads."""


@stress.command()
@click.option("--chunks", type=click.IntRange(1, 2000), default=200, show_default=True)
@click.option("--plugins", type=click.IntRange(1, 4), default=4, show_default=True)
@click.option("--arms", default=",".join(ARM_NAMES), show_default=True, help="Comma-separated arms.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_cli
def auditor(cli: CliContext, chunks: int, plugins: int, arms: str, seed: int, as_json: bool) -> None:
    """The Epistemic Auditor fan-out on each arm in its natural style; checks the arms agree."""
    from bakeoff.trial.stress import run_auditor_stress

    results = run_auditor_stress(
        cli.engine(), arms=_arms_option(arms), chunks=chunks, plugins=plugins, seed=seed
    )
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    table = Table(title=f"Epistemic Auditor: {chunks} chunks x {plugins} plugins", title_justify="left")
    for column in (
        "arm",
        "style",
        "wall s",
        "ops/s",
        "steps/jobs",
        "peak in flight",
        "limit hit",
        "digest",
        "same",
    ):
        table.add_column(column)
    reference = results[0].digest if results else None
    for r in results:
        table.add_row(
            r.arm,
            r.style,
            f"{r.wall_seconds:.2f}",
            f"{r.operations_per_second:.0f}",
            str(r.units_created),
            str(r.peak_in_flight),
            r.limit_hit or "no",
            r.digest[:12],
            "yes" if r.digest == reference else "NO",
        )
    Console().print(table)
    if any(r.digest != reference for r in results):
        raise click.ClickException("the arms produced different synthesized results")
