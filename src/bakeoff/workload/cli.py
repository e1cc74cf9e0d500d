"""``bakeoff articles``: run the local article server from the command line."""

from __future__ import annotations

import threading

import click

from bakeoff.workload.faults import PROFILES

__all__ = ["articles"]


@click.group()
def articles() -> None:
    """The local article server (a seeded synthetic corpus with fault profiles)."""


@articles.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks one.")
@click.option("--profile", type=click.Choice(PROFILES), default="none", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Corpus and fault seed.")
@click.option("--corpus-size", type=click.IntRange(1), default=500, show_default=True)
@click.option(
    "--latency-scale", type=click.FloatRange(0), default=1.0, show_default=True, help="Multiplies latencies."
)
@click.option(
    "--hold-seconds",
    type=click.FloatRange(0, 120),
    default=12.0,
    show_default=True,
    help="How long a 'timeout' fate holds its response.",
)
def serve(
    host: str,
    port: int,
    profile: str,
    seed: int,
    corpus_size: int,
    latency_scale: float,
    hold_seconds: float,
) -> None:
    """Serve articles until interrupted; prints the base URL and the allowlist value to export."""
    from bakeoff.workload.article_server import ArticleServer

    server = ArticleServer(
        profile=profile,
        seed=seed,
        host=host,
        port=port,
        corpus_size=corpus_size,
        latency_scale=latency_scale,
        hold_seconds=hold_seconds,
    )
    with server:
        click.echo(
            f"serving {corpus_size} articles at {server.base_url}/articles/N (profile {profile}, seed {seed})"
        )
        click.echo(f"export BAKEOFF_IMPORT_ALLOW_HOSTS={server.allow_hosts_value}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopping")
