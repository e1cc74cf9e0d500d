"""``bakeoff consistency``: re-fetch a sample of completed imports through the control's code path."""

from __future__ import annotations

import json

import click

from bakeoff.cli import CliContext, pass_cli

__all__ = ["consistency"]


@click.command()
@click.option("--experiment", default="article-import", show_default=True)
@click.option(
    "--sample-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Share of completed imports to check in this pass (default: the experiment's, else 0.05).",
)
@click.option(
    "--set-sample-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Store the experiment's sample rate and exit.",
)
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=200, show_default=True, help="Checks per pass."
)
@pass_cli
def consistency(
    cli: CliContext, experiment: str, sample_rate: float | None, set_sample_rate: float | None, limit: int
) -> None:
    """Check that each arm saved the document the control arm would have (one more fetch per sampled job)."""
    from bakeoff.analysis.consistency import set_sample_rate as store_rate
    from bakeoff.db.migrate import upgrade
    from bakeoff.trial.consistency import run_consistency_pass
    from bakeoff.workload.models import ImportSettings

    engine = cli.engine()
    upgrade(engine)
    if set_sample_rate is not None:
        store_rate(engine, experiment, set_sample_rate)
        click.echo(json.dumps({"experiment": experiment, "sample_rate": set_sample_rate}))
        return
    result = run_consistency_pass(
        engine, experiment, ImportSettings.from_env(), rate=sample_rate, limit=limit
    )
    click.echo(json.dumps(result.to_dict()))
