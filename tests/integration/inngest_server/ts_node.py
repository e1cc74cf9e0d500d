"""Inngest's official TypeScript SDK, installed from pinned files and served by Node in a subprocess.

As ``tests/interop/pgboss_node.py`` does for pg-boss: ``npm ci`` of ``node/package.json`` and its
lockfile (``inngest`` 3.x, pinned; ``node_v4/`` holds 4.x) into
``~/.cache/bakeoff/inngest-node/<project>-<hash of the lockfile>``
(or ``BAKEOFF_INNGEST_NODE_CACHE``), once; ``app.mjs`` is copied next to ``node_modules`` on every
start. npm missing, or an install that fails, raises with a clear message: never a skip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent
PINNED_FILES = ("package.json", "package-lock.json")
INSTALL_HELP = (
    "The TypeScript SDK tests need Node.js 18+ and npm: `apt-get install nodejs npm` on Debian/Ubuntu, "
    "or from https://nodejs.org; then re-run the tests."
)


class NodeAppError(RuntimeError):
    """npm or node is missing, the install failed, or the app did not start."""


def _lock_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for name in PINNED_FILES:
        digest.update((project / name).read_bytes())
    return digest.hexdigest()[:16]


def ensure_installed(project: Path) -> Path:
    """The folder holding ``project``'s pinned ``inngest`` package (installed on first use)."""
    root = Path(os.environ.get("BAKEOFF_INNGEST_NODE_CACHE") or Path.home() / ".cache/bakeoff/inngest-node")
    target = root / f"{project.name}-{_lock_hash(project)}"
    if (target / ".complete").exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise NodeAppError(f"npm was not found on PATH. {INSTALL_HELP}")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=root))
    try:
        for name in PINNED_FILES:
            shutil.copy2(project / name, staging / name)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if result.returncode != 0:
            raise NodeAppError(f"`npm ci` failed:\n{result.stderr[-4000:]}\n{INSTALL_HELP}")
        (staging / ".complete").write_text(_lock_hash(project))
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_ts_app(
    app_id: str,
    server_url: str,
    project: str = "node",
    *,
    signing_key: str | None = None,
    event_key: str = "",
) -> Iterator[str]:
    """Run ``<project>/app.mjs`` pointed at ``server_url``; yields its serve URL.

    Dev mode (``INNGEST_DEV``), or production mode with ``signing_key`` (``INNGEST_BASE_URL``).
    """
    node = shutil.which("node")
    if node is None:
        raise NodeAppError(f"node was not found on PATH. {INSTALL_HELP}")
    folder = ensure_installed(HERE / project)
    shutil.copy2(HERE / project / "app.mjs", folder / "app.mjs")
    port = _free_port()
    env = {**os.environ, "APP_ID": app_id, "PORT": str(port), "INNGEST_DEV": server_url}
    if signing_key is not None:
        env.update(
            INNGEST_DEV="0", INNGEST_BASE_URL=server_url, INNGEST_SIGNING_KEY=signing_key,
            INNGEST_EVENT_KEY=event_key,
        )  # fmt: skip
    process = subprocess.Popen(
        [node, "app.mjs"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}/api/inngest"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _out, err = process.communicate()
            raise NodeAppError(f"the Node app exited with {process.returncode}:\n{err[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise NodeAppError("the Node app did not listen within 30 s")
