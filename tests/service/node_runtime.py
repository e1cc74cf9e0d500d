"""A pinned Node project installed with ``npm ci`` into a user cache; its scripts run with JSON in and out.

The same approach as ``tests/interop/pgboss_node.py`` (which is bound to the pg-boss project), for
any folder holding a ``package.json`` and ``package-lock.json``: the pinned ``node`` npm package
(22.x, fetched from the npm registry) provides a Node that strips TypeScript types, so the
README's TypeScript snippets run as they are. The install lands in
``~/.cache/bakeoff/<name>/<hash of the pinned files>`` (or ``BAKEOFF_NODE_CACHE``/<name>), once per
machine; missing npm is an error that says how to install it, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PINNED_FILES = ("package.json", "package-lock.json")
INSTALL_TIMEOUT_SECONDS = 600
INSTALL_HELP = (
    "These tests need npm (any version; Node 22 itself is installed from the npm registry by the "
    "pinned package.json). Install Node.js and npm, e.g. `apt-get install nodejs npm` on Debian/Ubuntu "
    "or from https://nodejs.org, then re-run the tests."
)


class NodeRuntimeError(RuntimeError):
    """npm is missing, the install failed, or a script failed."""


@dataclass(frozen=True, kw_only=True)
class NodeRuntime:
    """An installed copy of a pinned Node project: its folder and its Node binary."""

    folder: Path
    node: Path

    def run(
        self, script: str, payload: Any, *, env: dict[str, str] | None = None, timeout: float = 120
    ) -> Any:
        """Run ``script`` (in the folder) with ``payload`` as JSON on stdin; return the JSON it prints."""
        result = subprocess.run(
            [str(self.node), "--disable-warning=ExperimentalWarning", str(self.folder / script)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
            env={**os.environ, **(env or {})},
        )
        if result.returncode != 0:
            raise NodeRuntimeError(f"{script} exited {result.returncode}:\n{result.stderr[-6000:]}")
        return json.loads(result.stdout)


def _lock_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for name in PINNED_FILES:
        digest.update((project / name).read_bytes())
    return digest.hexdigest()[:16]


def _npm_ci(project: Path, folder: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise NodeRuntimeError(f"npm was not found on PATH. {INSTALL_HELP}")
    for name in PINNED_FILES:
        shutil.copy2(project / name, folder / name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise NodeRuntimeError(f"`npm ci` failed in {folder}:\n{result.stderr[-4000:]}\n{INSTALL_HELP}")


def ensure_runtime(project: Path, name: str) -> NodeRuntime:
    """Install ``project``'s pinned packages once (cached by the lockfile's hash); copy its scripts in."""
    root = Path(os.environ.get("BAKEOFF_NODE_CACHE") or Path.home() / ".cache" / "bakeoff")
    target = root / name / _lock_hash(project)
    if not (target / ".complete").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
        try:
            _npm_ci(project, staging)
            (staging / ".complete").write_text(_lock_hash(project))
            if not (target / ".complete").exists():  # a concurrent installer may have won the race
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    for script in (*project.glob("*.mjs"), *project.glob("*.ts")):
        shutil.copy2(script, target / script.name)
    node = target / "node_modules" / ".bin" / "node"
    if not node.exists():
        raise NodeRuntimeError(f"the install in {target} has no Node binary. {INSTALL_HELP}")
    return NodeRuntime(folder=target, node=node)
