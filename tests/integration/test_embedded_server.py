"""The embedded PostgreSQL: created once however many processes ask at the same time, with
pg_stat_statements preloaded and room for 300 connections, started again after a stop within the same
process, and given those settings at the next start of a data dir that lacks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bakeoff.db.embedded import embedded_server_running, ensure_embedded_server, stop_embedded_server

ASK_FOR_THE_SERVER = """
import sys
from pathlib import Path

import psycopg

from bakeoff.db.embedded import ensure_embedded_server

server = ensure_embedded_server(Path(sys.argv[1]))
with psycopg.connect(server.url) as conn:
    preloaded = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    connections = conn.execute("SHOW max_connections").fetchone()[0]
print(server.pid, preloaded, connections)
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Not under pytest's tmp_path, whose base folder is private (0700): the server runs as an
    unprivileged user under root and must reach its data dir."""
    folder = Path(tempfile.mkdtemp(prefix="bakeoff-embedded-test-"))
    yield folder
    stop_embedded_server(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_processes_racing_on_a_fresh_data_dir_share_one_server_with_statement_statistics(
    data_dir: Path,
) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", ASK_FOR_THE_SERVER, str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    answers = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err[-2000:]
        answers.append(out.split())
    running = embedded_server_running(data_dir)
    assert running is not None
    assert answers == [[str(running.pid), "pg_stat_statements", "300"]] * 3


def test_a_stopped_server_is_started_again_in_the_same_process(data_dir: Path) -> None:
    first = ensure_embedded_server(data_dir)
    assert stop_embedded_server(data_dir)
    assert embedded_server_running(data_dir) is None
    again = ensure_embedded_server(data_dir)
    assert again.pid != first.pid
    with psycopg.connect(again.url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_data_dir_without_the_settings_gets_them_at_its_next_start(data_dir: Path) -> None:
    """As a data dir made by an earlier bakeoff: PostgreSQL's defaults, then a stop and a start."""
    first = ensure_embedded_server(data_dir)
    with psycopg.connect(first.url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET max_connections")
        conn.execute("ALTER SYSTEM RESET shared_preload_libraries")
    assert stop_embedded_server(data_dir)
    again = ensure_embedded_server(data_dir)
    with psycopg.connect(again.url) as conn:
        settings = conn.execute(
            "SELECT name, setting FROM pg_settings"
            " WHERE name IN ('max_connections', 'shared_preload_libraries') ORDER BY name"
        ).fetchall()
    assert settings == [("max_connections", "300"), ("shared_preload_libraries", "pg_stat_statements")]
