"""``bakeoff report``: the nightly comparison as HTML, Markdown or JSON.

From the database (default) it reads the trial, the phase's configured shares and the qualitative
observations, shows earlier reports of the phase night by night, and stores this report's JSON in
``bakeoff.reports``. From an export file (``--input``) it needs no database; shares default to equal
over the arms or come from ``--shares``. Exit code 3 when the verdict is ``invalid``, so cron alerts.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from bakeoff.cli import CliContext, output_path, pass_cli

__all__ = ["EXIT_INVALID", "parse_shares", "report"]

logger = logging.getLogger(__name__)

EXIT_INVALID = 3
DEFAULT_EXPERIMENT = "article-import"


def parse_shares(raw: str | None) -> dict[str, float] | None:
    """``"legacy=1,pgboss=1,inngest=1"`` -> ``{"legacy": 1.0, ...}``."""
    if raw is None:
        return None
    shares: dict[str, float] = {}
    for part in raw.split(","):
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not name.strip() or weight < 0:
            raise click.BadParameter(
                f"expected arm=weight pairs like legacy=1,pgboss=1, got {part!r}", param_hint="--shares"
            )
        shares[name.strip()] = weight
    return shares


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _from_file(
    path: Path, experiment: str | None, since: datetime | None, until: datetime | None
) -> pd.DataFrame:
    from bakeoff.analysis import load_trial

    return load_trial(path, experiment=experiment, since=since, until=until)


def _database_inputs(
    cli: CliContext, experiment: str, phase: int | None, since: datetime | None, until: datetime | None
) -> tuple[pd.DataFrame, int | None, dict[str, float] | None, pd.DataFrame]:
    from bakeoff.analysis import load_trial
    from bakeoff.analysis.store import configured_shares, latest_phase, load_observations

    engine = cli.engine()
    chosen = phase if phase is not None else latest_phase(engine, experiment)
    df = load_trial(engine, experiment=experiment, since=since, until=until)
    shares = configured_shares(engine, experiment, chosen) if chosen is not None else None
    return df, chosen, shares, load_observations(engine, experiment)


def _render(comparison: Any, fmt: str, out: Path | None, history: list[dict[str, Any]]) -> None:
    from bakeoff.analysis.render import to_html, to_json, to_markdown

    if fmt == "html":
        path = output_path(
            out or Path(f"bakeoff-report-{comparison.experiment}-phase{comparison.phase}.html")
        )
        to_html(comparison, path, history=history)
        click.echo(f"wrote {path} (verdict: {comparison.verdict.status})")
        return
    text = to_json(comparison) if fmt == "json" else to_markdown(comparison, history=history)
    if out is None:
        click.echo(text)
    else:
        output_path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} (verdict: {comparison.verdict.status})")


@click.command()
@click.option("--since", type=click.DateTime(), default=None, help="Jobs submitted at or after (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Jobs submitted before (UTC).")
@click.option("--experiment", default=None, help=f"Experiment (database default: {DEFAULT_EXPERIMENT}).")
@click.option("--phase", type=int, default=None, help="Phase to analyse (default: the newest).")
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read an export file (CSV/Parquet) instead of the database.",
)
@click.option(
    "--shares", default=None, help="Configured shares for the SRM check, e.g. legacy=1,pgboss=1,inngest=1."
)
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="json", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: stdout; html: a file).",
)
@click.option("--control", default="legacy", show_default=True)
@click.option("--analysis", type=click.Choice(["itt", "per_protocol"]), default="itt", show_default=True)
@click.option(
    "--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True
)
@click.option(
    "--failure-margin",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.02,
    show_default=True,
)
@click.option(
    "--plan-days",
    type=click.FloatRange(0, min_open=True),
    default=21,
    show_default=True,
    help="Day of the trial by which the team plans to decide; the report gives the chance of that "
    "(default: the end of week 3).",
)
@click.option(
    "--store/--no-store", default=True, help="Store the JSON in bakeoff.reports (database mode only)."
)
@pass_cli
def report(
    cli: CliContext,
    since: datetime | None,
    until: datetime | None,
    experiment: str | None,
    phase: int | None,
    input_path: Path | None,
    shares: str | None,
    fmt: str,
    out: Path | None,
    control: str,
    analysis: str,
    alpha: float,
    failure_margin: float,
    plan_days: float,
    store: bool,
) -> None:
    """Compare each candidate arm with the control and say whether there is a winner yet."""
    from bakeoff.analysis import compare
    from bakeoff.analysis.render import clean_json

    since, until = _utc(since), _utc(until)
    configured = parse_shares(shares)
    observations = None
    history: list[dict[str, Any]] = []
    if input_path is not None:
        df = _from_file(input_path, experiment, since, until)
    else:
        df, phase, db_shares, observations = _database_inputs(
            cli, experiment or DEFAULT_EXPERIMENT, phase, since, until
        )
        configured = configured or db_shares
    comparison = compare(
        df,
        control=control,
        alpha=alpha,
        failure_margin=failure_margin,
        analysis=analysis,  # type: ignore[arg-type]
        shares=configured,
        phase=phase,
        observations=observations,
        window=(since, until),
        plan_days=plan_days,
    )
    if input_path is None:
        from dataclasses import replace

        from bakeoff.analysis.sections import collect_sections
        from bakeoff.analysis.store import report_history, store_report

        engine = cli.engine()
        comparison = replace(comparison, sections=collect_sections(engine, comparison.experiment))
        history = [
            *report_history(engine, comparison.experiment, comparison.phase),
            clean_json(comparison.to_dict()),
        ]
        if store:
            report_id = store_report(engine, clean_json(comparison.to_dict()))
            logger.info("stored report %d", report_id)
    _render(comparison, fmt, out, history)
    if comparison.verdict.status == "invalid":
        # Not ctx.exit(): bakeoff.cli.main runs click with standalone_mode=False, where click turns
        # ctx.exit(code) into a return value that main() drops. SystemExit passes through intact.
        sys.exit(EXIT_INVALID)
