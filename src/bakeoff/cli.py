"""The ``bakeoff`` command line.

Subcommands live beside the code they drive and are loaded on first use from ``SUBCOMMANDS``, so
``bakeoff --help`` stays fast and a part of the system owns its own commands. Every error is one
line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import socket
import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from bakeoff import __version__
from bakeoff.contract import BakeoffError
from bakeoff.settings import Settings

__all__ = ["CliContext", "main", "pass_cli"]

logger = logging.getLogger(__name__)

SUBCOMMANDS: dict[str, str] = {
    "db": "bakeoff.db.cli:db",
    "export": "bakeoff.metrics.cli:export",
    "observe": "bakeoff.metrics.cli:observe",
    "report": "bakeoff.analysis.cli:report",
    "guard": "bakeoff.guard.cli:guard",
    "cost": "bakeoff.analysis.cost_cli:cost",
    "consistency": "bakeoff.trial.consistency_cli:consistency",
    "demo": "bakeoff.trial.cli:demo",
    "experiment": "bakeoff.router.cli:experiment",
    "route": "bakeoff.router.cli:route",
    "articles": "bakeoff.workload.cli:articles",
    "worker": "bakeoff.trial.cli:worker",
    "serve": "bakeoff.service.cli:serve",
    "stress": "bakeoff.trial.cli:stress",
    "legacy": "bakeoff.backends.legacy.cli:legacy",
    "inngest": "bakeoff.backends.inngest.cli:inngest",
    "pgboss": "bakeoff.backends.pgboss.cli:pgboss",
}
"""Command name -> ``module:attribute`` of a click command, imported when the command runs."""

EXIT_ERROR = 1
EXIT_USAGE = 2


@dataclass
class CliContext:
    """What every subcommand gets: settings, the chosen database, and a lazily made engine."""

    settings: Settings
    database_url_override: str | None = None
    debug: bool = False
    _engine: Engine | None = field(default=None, repr=False)

    def database_url(self) -> str:
        from bakeoff.db import resolve_database_url

        return resolve_database_url(self.settings, self.database_url_override)

    def engine(self) -> Engine:
        """The engine for the chosen database, connection checked once."""
        if self._engine is None:
            from bakeoff.db import check_connection, make_engine

            engine = make_engine(self.database_url())
            check_connection(engine)
            self._engine = engine
        return self._engine


pass_cli = click.make_pass_decorator(CliContext)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS:
            module_name, attribute = SUBCOMMANDS[cmd_name].split(":")
            command = getattr(import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{SUBCOMMANDS[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bakeoff")
@click.option(
    "--database-url",
    envvar="BAKEOFF_DATABASE_URL",
    default=None,
    help="PostgreSQL to use (default: the embedded server; env BAKEOFF_DATABASE_URL).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, debug: bool, verbose: bool) -> None:
    """bakeoff: route article imports to legacy, pg-boss and Inngest arms, and decide with evidence."""
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = CliContext(settings=Settings.from_env(), database_url_override=database_url, debug=debug)


def _first_line(exc: BaseException) -> str:
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``bakeoff`` console script."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        exit_code = cli.main(args=args, prog_name="bakeoff", standalone_mode=False)
        # Outside standalone mode click returns a subcommand's ctx.exit(code) instead of exiting.
        if isinstance(exit_code, int) and exit_code != 0:
            sys.exit(exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("bakeoff: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = (
            f" (try 'bakeoff {exc.ctx.command_path.split(' ', 1)[1]} --help')"
            if exc.ctx and " " in exc.ctx.command_path
            else " (try 'bakeoff --help')"
        )
        click.echo(f"bakeoff: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"bakeoff: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except BakeoffError as exc:
        if debug:
            raise
        click.echo(f"bakeoff: error: {_first_line(exc)}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("bakeoff: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"bakeoff: internal error: {type(exc).__name__}: {_first_line(exc)} (rerun with --debug)",
            err=True,
        )
        sys.exit(EXIT_ERROR)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON on stdout."""
    import json

    click.echo(json.dumps(payload, indent=2, default=str, sort_keys=False))


def output_path(path: str | Path) -> Path:
    """A path for a file the command writes, its folder created."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (``0``: any free port), bound before a server announces its
    address, so the address printed is the one served and a port in use is a clear error, not a URL
    printed and then a server that exits. Hand it to uvicorn with ``fd=``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def http_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
