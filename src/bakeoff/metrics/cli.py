"""``bakeoff export`` and ``bakeoff observe``: the metrics as files, and the qualitative criteria."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from bakeoff.cli import CliContext, pass_cli
from bakeoff.contract import ARM_NAMES
from bakeoff.metrics.export import ExportFormat

OBSERVATION_KINDS = (
    "setup_minutes",
    "debugging_minutes",
    "satisfaction",
    "maintenance_incident",
    "maintenance_minutes",
)


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default=None,
    help="Default: from --out's extension.",
)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)
@click.option("--experiment", default=None, help="Only this experiment.")
@click.option("--phase", type=int, default=None, help="Only this phase.")
@click.option("--since", type=click.DateTime(), default=None, help="Submitted at or after (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Submitted before (UTC).")
@pass_cli
def export(
    cli: CliContext,
    fmt: str | None,
    out: Path,
    experiment: str | None,
    phase: int | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Export trial jobs (the metrics contract's columns) to CSV or Parquet."""
    from bakeoff.metrics.export import export_trial

    chosen: ExportFormat = (
        "parquet" if (fmt or out.suffix.lower().lstrip(".")) in ("parquet", "pq") else "csv"
    )
    rows = export_trial(
        cli.engine(), out, chosen, experiment=experiment, phase=phase, since=since, until=until
    )
    click.echo(f"wrote {rows} trial jobs to {out} ({chosen})")


@click.command()
@click.option("--arm", type=click.Choice(ARM_NAMES), required=True)
@click.option("--kind", type=click.Choice(OBSERVATION_KINDS), required=True)
@click.option("--value", type=float, required=True, help="Minutes, a 1-5 score, or 1 per incident.")
@click.option("--note", default="", help="What happened.")
@click.option("--by", "recorded_by", default="", help="Who recorded it.")
@click.option("--experiment", default="article-import")
@pass_cli
def observe(
    cli: CliContext, arm: str, kind: str, value: float, note: str, recorded_by: str, experiment: str
) -> None:
    """Record a qualitative observation (setup time, debugging minutes, satisfaction, incidents)."""
    from bakeoff.metrics.recorder import Recorder

    if kind == "satisfaction" and not 1 <= value <= 5:
        raise click.BadParameter("satisfaction is a score from 1 to 5", param_hint="--value")
    if value < 0:
        raise click.BadParameter("must not be negative", param_hint="--value")
    observation_id = Recorder(cli.engine()).observe(
        arm=arm, kind=kind, value=value, note=note, recorded_by=recorded_by, experiment=experiment
    )
    click.echo(f"recorded observation {observation_id}: {arm} {kind}={value:g}")
