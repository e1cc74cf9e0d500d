"""``bakeoff guard``: run the guardrail on a schedule; ``enable``/``disable``/``show`` its settings.

Exit codes of a guard run: 0 nothing to report, 3 an alert (sample-ratio mismatch, an arm without
traffic), 4 an arm was killed (or would have been, with ``--dry-run``).
"""

from __future__ import annotations

import json
import re
import signal
import threading

import click
from sqlalchemy import Engine

from bakeoff.cli import CliContext, pass_cli

__all__ = ["guard", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(raw: str) -> float:
    """``"10m"`` -> 600.0; also ``"30s"``, ``"1h"``, ``"90"`` (seconds)."""
    match = _DURATION.match(raw)
    if match is None or float(match[1]) <= 0:
        raise click.BadParameter(f"expected a positive duration like 30s, 10m or 1h, got {raw!r}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


@click.group(invoke_without_command=True)
@click.option("--experiment", default=None, help="Guard this experiment (default: every enabled one).")
@click.option("--every", default="10m", show_default=True, help="Time between checks (30s, 10m, 1h).")
@click.option("--once", is_flag=True, help="Check once and exit (for cron).")
@click.option("--dry-run", is_flag=True, help="Say what would be killed; change nothing.")
@click.pass_context
def guard(ctx: click.Context, experiment: str | None, every: str, once: bool, dry_run: bool) -> None:
    """Kill a candidate arm that is shown to hurt users (anytime-valid one-sided tests).

    Off unless enabled per experiment: `bakeoff guard enable article-import`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from bakeoff.db.migrate import upgrade
    from bakeoff.guard.runner import GuardRound, exit_code, guard_once, run_guard

    cli: CliContext = ctx.find_object(CliContext)  # type: ignore[assignment]
    interval = parse_duration(every)
    engine = cli.engine()
    upgrade(engine)

    def emit(r: GuardRound) -> None:
        click.echo(json.dumps(r.to_dict(), default=str))

    if once:
        rounds = guard_once(engine, experiment, dry_run=dry_run)
        for r in rounds:
            emit(r)
        raise SystemExit(exit_code(rounds))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    raise SystemExit(run_guard(engine, experiment, interval, dry_run, stop, on_round=emit))


@guard.command()
@click.argument("experiment")
@click.option("--failure-margin", type=float, default=None, help="Points above the control's failure rate.")
@click.option("--latency-ratio", type=float, default=None, help="Candidate p95 / control p95 limit.")
@click.option("--alpha", type=float, default=None, help="Error bound of each one-sided test.")
@click.option("--min-jobs", type=int, default=None, help="Finished jobs per arm before testing.")
@pass_cli
def enable(
    cli: CliContext,
    experiment: str,
    failure_margin: float | None,
    latency_ratio: float | None,
    alpha: float | None,
    min_jobs: int | None,
) -> None:
    """Turn the guardrail on for EXPERIMENT (optionally retuned)."""
    from bakeoff.guard.settings import SettingsStore

    given = {"failure_margin": failure_margin, "latency_ratio": latency_ratio, "alpha": alpha}
    changes = {k: v for k, v in {**given, "min_jobs": min_jobs}.items() if v is not None}
    settings = SettingsStore(_migrated(cli)).update(experiment, enabled=True, **changes)
    click.echo(json.dumps(settings.to_dict()))


@guard.command()
@click.argument("experiment")
@pass_cli
def disable(cli: CliContext, experiment: str) -> None:
    """Turn the guardrail off for EXPERIMENT (its settings are kept)."""
    from bakeoff.guard.settings import SettingsStore

    click.echo(json.dumps(SettingsStore(_migrated(cli)).update(experiment, enabled=False).to_dict()))


@guard.command()
@click.argument("experiment", required=False)
@pass_cli
def show(cli: CliContext, experiment: str | None) -> None:
    """Show the guardrail settings of EXPERIMENT (or of every configured experiment)."""
    from bakeoff.guard.settings import SettingsStore

    store = SettingsStore(_migrated(cli))
    chosen = [store.get(experiment)] if experiment else store.all()
    click.echo(json.dumps([s.to_dict() for s in chosen], indent=2))


def _migrated(cli: CliContext) -> Engine:
    from bakeoff.db.migrate import upgrade

    engine = cli.engine()
    upgrade(engine)
    return engine
