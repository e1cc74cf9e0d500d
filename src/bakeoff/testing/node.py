"""Pinned Node projects for the tests and benchmarks that judge bakeoff with real JavaScript clients.

A project is a folder with a ``package.json`` and its ``package-lock.json`` (and the ``.mjs``/``.ts``
scripts to run). :func:`ensure_runtime` runs ``npm ci`` for it once per machine, into
``~/.cache/bakeoff/<name>/<hash of the pinned files>`` (or ``$BAKEOFF_NODE_CACHE/<name>/...``),
through a staging folder so concurrent installers never see half an install, and copies the
project's scripts next to ``node_modules`` on every call. The projects pin the npm package ``node``
(22.x), whose install script brings a Node binary from the npm registry, so an older system Node
only needs npm. npm missing, or an install that fails, raises :class:`NodeRuntimeError` saying how
to install it: these tests never skip.

Used by the pg-boss interop tests (:mod:`bakeoff.testing.pgboss_node`), the service's OpenFeature
tests and the Inngest TypeScript SDK tests.
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

__all__ = ["INSTALL_HELP", "NodeRuntime", "NodeRuntimeError", "ensure_runtime", "install_project"]

logger = logging.getLogger(__name__)

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
    """An installed copy of a pinned Node project: its folder and the Node binary it pinned."""

    folder: Path
    node: Path

    def package_version(self, package: str) -> str:
        """The installed version of ``package`` (as its own package.json says)."""
        manifest = json.loads((self.folder / "node_modules" / package / "package.json").read_text())
        return str(manifest["version"])

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
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            # A CI run got empty stdout with exit 0: name what the script printed, on both streams.
            raise NodeRuntimeError(
                f"{script} exited 0 without JSON on stdout ({exc}); stdout: {result.stdout[:2000]!r};"
                f" stderr: {result.stderr[-4000:]!r}"
            ) from exc


def install_project(project: Path, name: str) -> Path:
    """Install ``project``'s pinned packages once (cached by the pinned files' hash) as ``name``;
    copy its scripts in; return the installed folder."""
    root = Path(os.environ.get("BAKEOFF_NODE_CACHE") or Path.home() / ".cache" / "bakeoff")
    target = root / name / _lock_hash(project)
    if not (target / ".complete").exists():
        _install(project, target)
    for script in (*project.glob("*.mjs"), *project.glob("*.ts")):
        shutil.copy2(script, target / script.name)
    return target


def ensure_runtime(project: Path, name: str) -> NodeRuntime:
    """:func:`install_project`, for a project that pins the ``node`` package: its folder and Node."""
    target = install_project(project, name)
    node = target / "node_modules" / ".bin" / "node"
    if not node.exists():
        raise NodeRuntimeError(f"the install in {target} has no Node binary. {INSTALL_HELP}")
    return NodeRuntime(folder=target, node=node)


def _lock_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for name in PINNED_FILES:
        digest.update((project / name).read_bytes())
    return digest.hexdigest()[:16]


def _install(project: Path, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise NodeRuntimeError(f"npm was not found on PATH. {INSTALL_HELP}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=target.parent))
    try:
        for name in PINNED_FILES:
            shutil.copy2(project / name, staging / name)
        logger.info("installing the pinned Node project %s into %s", project, staging)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            raise NodeRuntimeError(f"`npm ci` failed in {staging}:\n{result.stderr[-4000:]}\n{INSTALL_HELP}")
        (staging / ".complete").write_text(_lock_hash(project))
        # A concurrent installer may have won the race; its copy is as good as ours.
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
