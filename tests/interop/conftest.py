"""Fixtures for the pg-boss interop suite: the pinned real pg-boss in Node, installed once per machine.

Where npm is missing or the install fails, every interop test FAILS with a message that says how to
install Node and npm; these tests never skip (CI has Node and npm).
"""

from __future__ import annotations

import pytest

from bakeoff.testing.pgboss_node import NodeRuntimeError, PgBossRuntime, ensure_runtime


@pytest.fixture(scope="session")
def pgboss_runtime() -> PgBossRuntime:
    """Node 22 and the pinned pg-boss from src/bakeoff/testing/node, installed into the user cache."""
    try:
        return ensure_runtime()
    except NodeRuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
