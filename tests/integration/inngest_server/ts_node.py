"""Inngest's official TypeScript SDK, installed from pinned files and served by Node in a subprocess.

``node/package.json`` and its lockfile (``inngest`` 3.x, pinned; ``node_v4/`` holds 4.x) are installed
once by :func:`bakeoff.testing.node.install_project`, which copies ``app.mjs`` next to
``node_modules`` on every start. npm missing, or an install that fails, raises with a clear
message: never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bakeoff.testing import free_port
from bakeoff.testing.node import NodeRuntimeError, install_project

HERE = Path(__file__).parent
INSTALL_HELP = (
    "The TypeScript SDK tests need Node.js 18+ and npm: `apt-get install nodejs npm` on Debian/Ubuntu, "
    "or from https://nodejs.org; then re-run the tests."
)


class NodeAppError(RuntimeError):
    """npm or node is missing, the install failed, or the app did not start."""


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
    try:
        folder = install_project(HERE / project, f"inngest-node-{project}")
    except NodeRuntimeError as exc:
        raise NodeAppError(str(exc)) from exc
    port = free_port()
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
