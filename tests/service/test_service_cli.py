"""``bakeoff serve`` as a real subprocess over the real arms (built as ``bakeoff worker`` builds them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
from service_support import ADMIN_TOKEN
from sqlalchemy import Engine, text


def _listening(process: subprocess.Popen[str], deadline: float) -> tuple[dict[str, Any], list[str]]:
    assert process.stderr is not None
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("event") == "serve_listening":
            return json.loads(line), seen
    raise AssertionError(f"bakeoff serve did not start: {''.join(seen)}")


def test_bakeoff_serve_routes_to_the_real_arms_and_stops_on_sigterm(
    database_url: str, engine: Engine
) -> None:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url, "BAKEOFF_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("BAKEOFF_API_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        listening, stderr = _listening(process, time.monotonic() + 60)
        assert any("without BAKEOFF_API_TOKEN" in line for line in stderr), stderr
        assert ADMIN_TOKEN not in "".join(stderr)
        port = listening["url"].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["arms"]) == {"legacy", "pgboss", "inngest"}
        created = httpx.post(
            f"{url}/v1/imports", json={"url": "https://example.com/cli", "unit_key": "user-42"}, timeout=30
        )
        assert created.status_code == 201, created.text
        assert created.json()["arm"] == "pgboss"
        with engine.connect() as conn:
            backend_job_id = conn.execute(
                text("SELECT backend_job_id FROM bakeoff.trial_jobs WHERE trial_job_id = :id"),
                {"id": created.json()["trial_job_id"]},
            ).scalar_one()
        assert backend_job_id == created.json()["backend_job_id"]
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so a supervisor sees how it ended.
        assert process.wait(timeout=30) == -signal.SIGTERM
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
