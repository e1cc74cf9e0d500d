"""``bakeoff worker`` as the real trial runs it: two worker processes (two "machines") on one database.

The test routes imports through a real ``Router`` in this process; the workers are the real CLI in
subprocesses. Each finished job must be logged exactly once, by the process that finished it, and
SIGTERM must drain: a job in flight when the signal comes still finishes (and is logged).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from bakeoff import Experiment, ImportRequest, Router
from bakeoff.backends import create_backend
from bakeoff.contract import ARM_NAMES
from bakeoff.trial.runner import close_backends
from bakeoff.workload.article_server import ArticleServer

pytestmark = pytest.mark.slow

FAST_PER_ARM = 4
SLOW_SECONDS = 4


class WorkerProcess:
    """One ``bakeoff worker`` subprocess; its stdout lines are collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bakeoff", "worker", "--arms", ",".join(ARM_NAMES), "--concurrency", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr_lines: list[str] = []
        # Both pipes are read by threads only (never by communicate(), which would race them).
        self.readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    def finished_jobs(self) -> list[dict[str, Any]]:
        jobs = []
        while not self.lines.empty():
            jobs.append(self.lines.get_nowait())
        return jobs

    def terminate(self, timeout: float = 120) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        for reader in self.readers:  # the pipes close when the process exits: every line is read
            reader.join(timeout=30)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def server() -> Iterator[ArticleServer]:
    with ArticleServer(profile="none") as server:
        yield server


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def count(engine: Engine, where: str, ids: list[UUID]) -> int:
    with engine.connect() as conn:
        sql = f"SELECT count(*) FROM bakeoff.trial_jobs WHERE trial_job_id = ANY(:ids) AND {where}"
        return int(conn.execute(text(sql), {"ids": ids}).scalar_one())


def test_two_workers_log_each_job_once_and_drain_in_flight_jobs_on_sigterm(
    database_url: str, engine: Engine, server: ArticleServer
) -> None:
    env = {"BAKEOFF_DATABASE_URL": database_url, "BAKEOFF_IMPORT_ALLOW_HOSTS": server.allow_hosts_value}
    backends = {arm: create_backend(arm, engine) for arm in ARM_NAMES}
    router = Router(engine, experiment=Experiment(name="worker-cli"), backends=backends)
    workers = [WorkerProcess(env), WorkerProcess(env)]
    try:
        urls = iter(server.article_urls(FAST_PER_ARM * len(ARM_NAMES)))
        fast = [
            router.submit(ImportRequest(url=next(urls)), override_arm=arm).trial_job_id
            for arm in ARM_NAMES
            for _ in range(FAST_PER_ARM)
        ]
        wait_for(lambda: count(engine, "outcome IS NOT NULL", fast) == len(fast), 120, "the fast jobs")

        slow = [
            router.submit(
                ImportRequest(url=server.url(f"/test/slow?seconds={SLOW_SECONDS}&arm={arm}")),
                override_arm=arm,
            ).trial_job_id
            for arm in ARM_NAMES
        ]
        wait_for(
            lambda: count(engine, "started_at IS NOT NULL", slow) == len(slow), 60, "the slow jobs to start"
        )
        assert count(engine, "outcome IS NOT NULL", slow) == 0  # in flight when SIGTERM comes
        exit_codes = [worker.terminate() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
        router.close()
        close_backends(backends.values())

    assert exit_codes == [0, 0], [w.stderr[-2000:] for w in workers]
    for worker in workers:
        assert '"event": "worker_stopped"' in worker.stderr

    # Every job finished, the in-flight ones included, and each is logged once, by one process.
    lines = [line for worker in workers for line in worker.finished_jobs()]
    logged = [UUID(line["trial_job_id"]) for line in lines]
    assert sorted(logged) == sorted(fast + slow)
    assert {line["event"] for line in lines} == {"job_finished"}
    assert {line["outcome"] for line in lines} == {"completed"}
    assert {line["served_arm"] for line in lines} == set(ARM_NAMES)
    for line in lines:
        assert line["experiment"] == "worker-cli" and line["attempts"] >= 1
        assert line["queue_wait_ms"] >= 0 and line["run_time_ms"] >= 0
    slow_lines = [line for line in lines if UUID(line["trial_job_id"]) in slow]
    assert all(line["run_time_ms"] >= SLOW_SECONDS * 1000 for line in slow_lines)
    assert count(engine, "outcome = 'completed' AND document_id IS NOT NULL", fast + slow) == len(fast + slow)
