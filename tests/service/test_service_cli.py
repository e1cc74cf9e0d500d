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


def test_bakeoff_serve_with_two_workers_answers_every_scrape_with_both_processes_metrics(
    database_url: str,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    for name in ("BAKEOFF_API_TOKEN", "BAKEOFF_ADMIN_TOKEN", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "serve", "--port", "0", "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _listening(process, time.monotonic() + 60)[0]["url"]
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            for i in range(12):
                # A new connection each time, so the kernel spreads them over both processes.
                response = httpx.post(
                    f"{url}/v1/imports", json={"url": f"https://example.com/w{i}"}, timeout=30
                )
                assert response.status_code == 201, response.text
            for _ in range(6):  # whichever process answers, it reports the submits of both
                exposition = httpx.get(f"{url}/metrics", timeout=30).text
                values: dict[str, float] = {}
                for family in text_string_to_metric_families(exposition):
                    for sample in family.samples:
                        values[sample.name] = values.get(sample.name, 0) + sample.value
                assert values["bakeoff_router_submit_seconds_count"] == 12
                assert values["bakeoff_jobs_submitted_total"] == 12
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_otel_traces_exporter_console_prints_the_submit_span_by_shutdown(database_url: str) -> None:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url, "OTEL_TRACES_EXPORTER": "console"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "serve", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = _listening(process, time.monotonic() + 60)[0]["url"]
        created = httpx.post(
            f"{url}/v1/imports", json={"url": "https://example.com/t", "unit_key": "user-42"}, timeout=30
        )
        assert created.status_code == 201
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert '"name": "send article-import"' in stdout
    assert f'"bakeoff.trial_job_id": "{created.json()["trial_job_id"]}"' in stdout


def test_an_exporter_that_is_not_installed_is_named_in_the_error() -> None:
    # A database that cannot answer: the exporter must be refused before the database is touched.
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "zipkin_json",
        "BAKEOFF_DATABASE_URL": "postgresql://u@127.0.0.1:1/x",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bakeoff", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "zipkin_json" in result.stderr and "not installed" in result.stderr
