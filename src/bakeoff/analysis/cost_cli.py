"""``bakeoff cost``: each arm's monthly cost at today's volume, 10x and 100x, assumptions beside figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bakeoff.cli import CliContext, pass_cli

__all__ = ["cost"]


@click.command()
@click.option("--experiment", default="article-import", show_default=True)
@click.option(
    "--pricing",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A pricing file (JSON, the shipped one's format) with your prices set.",
)
@click.option(
    "--jobs-per-day",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Today's volume (default: measured from the trial's submissions).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the projection as JSON.")
@pass_cli
def cost(
    cli: CliContext, experiment: str, pricing: Path | None, jobs_per_day: float | None, as_json: bool
) -> None:
    """Project each arm's cost per month from what it used in the trial."""
    from bakeoff.analysis.cost import load_pricing, measure_usage, project
    from bakeoff.analysis.render import clean_json
    from bakeoff.analysis.sections import cost_text

    prices = load_pricing(pricing)
    projection = project(measure_usage(cli.engine(), experiment, jobs_per_day=jobs_per_day), prices)
    body = clean_json(projection.to_dict())
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"bakeoff cost: experiment {experiment}")
    click.echo(cost_text(body))
