"""What a new user meets first: a mistyped run id and a database ``bakeoff db upgrade`` never ran on."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from bakeoff.backends.inngest import Inngest, TriggerEvent
from bakeoff.cli import cli
from bakeoff.contract import DatabaseUnavailable
from bakeoff.testing import TestDatabases


def test_run_with_an_id_that_is_not_a_uuid_says_so(module_database_url: str) -> None:
    """``bakeoff inngest run not-a-uuid`` is a usage error naming the run id, not an internal error."""
    result = CliRunner().invoke(cli, ["--database-url", module_database_url, "inngest", "run", "not-a-uuid"])
    assert result.exit_code == 2, result.output
    assert "'not-a-uuid' is not a valid run id" in result.output
    assert "InvalidTextRepresentation" not in result.output


def test_worker_on_an_unmigrated_database_names_db_upgrade_before_any_thread(
    test_databases: TestDatabases,
) -> None:
    """start_worker refuses with one error naming ``bakeoff db upgrade``; no worker thread starts."""
    url = test_databases.create_empty()
    client = Inngest(app_id="new-user", database_url=url)
    client.create_function(fn_id="noop", trigger=TriggerEvent(event="new/user"))(lambda ctx: None)
    threads_before = set(threading.enumerate())
    try:
        with pytest.raises(DatabaseUnavailable, match="bakeoff db upgrade"):
            client.start_worker(concurrency=2)
        new_threads = set(threading.enumerate()) - threads_before
        assert [t.name for t in new_threads if t.name.startswith("worker-")] == []
    finally:
        client.close()
        test_databases.drop(url)
