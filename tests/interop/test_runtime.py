"""The pinned real pg-boss installs from the project's own files and matches the recorded fixtures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from differential import run_sql

from bakeoff.testing.pgboss_node import NODE_PROJECT, PgBossRuntime, node_connection, run_script

pytestmark = pytest.mark.interop

FIXTURES = Path(__file__).parent / "fixtures"


def test_runtime_is_node_22_with_the_pinned_pgboss(pgboss_runtime: PgBossRuntime) -> None:
    """`npm ci` of src/bakeoff/testing/node yields Node >= 22.12 and exactly the pinned pg-boss."""
    version = subprocess.run(
        [str(pgboss_runtime.node), "-v"], capture_output=True, text=True, check=True
    ).stdout.strip()
    major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    assert (major, minor) >= (22, 12), version
    pinned = json.loads((NODE_PROJECT / "package.json").read_text())
    assert pgboss_runtime.pgboss_version == pinned["dependencies"]["pg-boss"]


def test_fixtures_record_the_pinned_schema(pgboss_runtime: PgBossRuntime) -> None:
    """The construction DDL and schema version in fixtures/ are what the pinned pg-boss generates."""
    plans = run_script(pgboss_runtime, "plans.mjs", {"schema": "pgboss"})
    recorded = json.loads((FIXTURES / "pgboss-version.json").read_text())
    assert recorded == {
        "pgboss_version": pgboss_runtime.pgboss_version,
        "schema_version": plans["schema_version"],
        "schema": "pgboss",
    }
    assert (FIXTURES / "pgboss-construction.sql").read_text() == plans["construction_sql"].strip() + "\n"


def test_real_pgboss_installs_its_schema_in_a_test_database(
    pgboss_runtime: PgBossRuntime, database_url: str
) -> None:
    """The real pg-boss connects to the test server (unix socket or TCP) and installs its schema there."""
    result = run_script(
        pgboss_runtime,
        "harness.mjs",
        {"connection": node_connection(database_url), "schema": "pgb_node", "ops": []},
    )
    assert result["results"] == []
    recorded = json.loads((FIXTURES / "pgboss-version.json").read_text())
    assert run_sql(database_url, "schema_version", "pgb_node") == [(recorded["schema_version"],)]
