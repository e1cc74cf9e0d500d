"""``bakeoff db``: migrate, inspect and stop the database."""

from __future__ import annotations

import click

from bakeoff.cli import CliContext, pass_cli
from bakeoff.db.embedded import embedded_server_running, stop_embedded_server
from bakeoff.db.urls import mask_url


@click.group()
def db() -> None:
    """Database commands: upgrade, status, url, stop."""


@db.command()
@pass_cli
def upgrade(cli: CliContext) -> None:
    """Apply every pending schema migration (idempotent)."""
    from bakeoff.db.migrate import upgrade as run_upgrade

    applied = run_upgrade(cli.engine())
    click.echo(f"schema up to date at {', '.join(sorted(applied))}")


@db.command()
@pass_cli
def status(cli: CliContext) -> None:
    """Which server is in use, its version, and the schema revisions applied."""
    from bakeoff.db import check_connection
    from bakeoff.db.migrate import applied_revisions, current_revisions, head_revisions

    engine = cli.engine()
    if cli.database_url_override is None and cli.settings.database_url is None:
        server = embedded_server_running(cli.settings.data_dir)
        kind = f"embedded (data {server.pgdata}, pid {server.pid})" if server else "embedded"
    else:
        kind = "external"
    with engine.connect() as conn:
        stored = current_revisions(conn)
        applied = applied_revisions(conn)
    heads = head_revisions()
    click.echo(f"server:   {kind}")
    click.echo(f"url:      {mask_url(engine.url)}")
    click.echo(f"version:  PostgreSQL {check_connection(engine)}")
    click.echo(f"schema:   {', '.join(sorted(stored)) or 'not migrated'}")
    pending = heads - applied
    click.echo(f"pending:  {', '.join(sorted(pending)) if pending else 'none'}")


@db.command()
@pass_cli
def url(cli: CliContext) -> None:
    """Print the database URL in use, password masked."""
    click.echo(mask_url(cli.database_url()))


@db.command()
@pass_cli
def stop(cli: CliContext) -> None:
    """Stop the embedded PostgreSQL (an external server is left alone)."""
    if cli.database_url_override or cli.settings.database_url:
        raise click.ClickException(
            "BAKEOFF_DATABASE_URL points at an external server; bakeoff does not stop it"
        )
    if stop_embedded_server(cli.settings.data_dir):
        click.echo(f"stopped the embedded PostgreSQL in {cli.settings.data_dir}")
    else:
        click.echo("no embedded PostgreSQL was running")
