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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from bakeoff import Experiment, ImportRequest, Router
from bakeoff.backends import create_backend
from bakeoff.backends.legacy.adapter import LegacyBackend
from bakeoff.contract import ARM_NAMES, JobBackend, JobState
from bakeoff.testing import wait_for
from bakeoff.trial.runner import close_backends
from bakeoff.workload.article_server import ArticleServer

pytestmark = pytest.mark.slow

FAST_PER_ARM = 4
SLOW_SECONDS = 8
"""Under the import's 10 s read timeout; legacy's slow job is started first, since a child's start-up
can take seconds on a loaded machine and every slow job must still be running at SIGTERM."""


class WorkerProcess:
    """One ``bakeoff worker`` subprocess; its stdout lines are collected as they come."""

    def __init__(self, env: dict[str, str], arms: tuple[str, ...] = ARM_NAMES) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bakeoff", "worker", "--arms", ",".join(arms), "--concurrency", "2"],
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

    def terminate(self, timeout: float = 120, *, twice: bool = False) -> int:
        self.process.send_signal(signal.SIGTERM)
        if twice:
            # Two signals sent at once may arrive as one: the second goes once the drain has begun.
            wait_for(lambda: '"worker_draining"' in self.stderr, "the worker to start draining", timeout=60)
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


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its new parent to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def count(engine: Engine, where: str, ids: list[UUID]) -> int:
    with engine.connect() as conn:
        sql = f"SELECT count(*) FROM bakeoff.trial_jobs WHERE trial_job_id = ANY(:ids) AND {where}"
        return int(conn.execute(text(sql), {"ids": ids}).scalar_one())


@dataclass
class Routing:
    """What a test routes with: the workers' environment, the arms (for submits) and the router."""

    env: dict[str, str]
    backends: dict[str, JobBackend]
    router: Router


@pytest.fixture
def routing(database_url: str, engine: Engine, server: ArticleServer) -> Iterator[Routing]:
    env = {"BAKEOFF_DATABASE_URL": database_url, "BAKEOFF_IMPORT_ALLOW_HOSTS": server.allow_hosts_value}
    backends = {arm: create_backend(arm, engine) for arm in ARM_NAMES}
    router = Router(engine, experiment=Experiment(name="worker-cli"), backends=backends)
    yield Routing(env=env, backends=backends, router=router)
    router.close()
    close_backends(backends.values())


def submit_slow(router: Router, server: ArticleServer, arm: str) -> UUID:
    url = server.url(f"/test/slow?seconds={SLOW_SECONDS}&arm={arm}")
    return router.submit(ImportRequest(url=url), override_arm=arm).trial_job_id


def test_two_workers_log_each_job_once_and_drain_in_flight_jobs_on_sigterm(
    routing: Routing, engine: Engine, server: ArticleServer
) -> None:
    router = routing.router
    workers = [WorkerProcess(routing.env), WorkerProcess(routing.env)]
    try:
        urls = iter(server.article_urls(FAST_PER_ARM * len(ARM_NAMES)))
        fast = [
            router.submit(ImportRequest(url=next(urls)), override_arm=arm).trial_job_id
            for arm in ARM_NAMES
            for _ in range(FAST_PER_ARM)
        ]
        wait_for(
            lambda: count(engine, "outcome IS NOT NULL", fast) == len(fast),
            "the fast jobs",
            timeout=120,
            interval=0.2,
        )

        slow = [submit_slow(router, server, "legacy")]
        wait_for(
            lambda: count(engine, "started_at IS NOT NULL", slow) == 1,
            "the legacy slow job",
            timeout=60,
            interval=0.2,
        )
        slow += [submit_slow(router, server, arm) for arm in ("pgboss", "inngest")]
        wait_for(
            lambda: count(engine, "started_at IS NOT NULL", slow) == len(slow),
            "the slow jobs to start",
            timeout=60,
            interval=0.2,
        )
        assert count(engine, "outcome IS NOT NULL", slow) == 0  # in flight when SIGTERM comes
        exit_codes = [worker.terminate() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()

    assert exit_codes == [0, 0], [w.stderr[-2000:] for w in workers]
    for worker in workers:
        assert (
            '"event": "worker_stopped", "arms": ["legacy", "pgboss", "inngest"], "undrained": []'
            in worker.stderr
        )

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


def test_a_second_sigterm_cuts_the_drain_short_and_kills_the_legacy_child(
    routing: Routing, engine: Engine, server: ArticleServer
) -> None:
    """Exit 1 naming the undrained arm; the child (which ignores SIGTERM) dies; its row waits for reap."""
    worker = WorkerProcess(routing.env, arms=("legacy",))
    try:
        submission = routing.router.submit(
            ImportRequest(url=server.url("/test/slow?seconds=9")), override_arm="legacy"
        )
        legacy = routing.backends["legacy"]
        assert isinstance(legacy, LegacyBackend)

        def child_pid() -> int | None:
            job = legacy.store.get(submission.backend_job_id)
            return None if job is None else job.pid

        wait_for(lambda: child_pid() is not None, "the legacy child to spawn", timeout=60, interval=0.2)
        exit_code = worker.terminate(twice=True)
    finally:
        worker.kill()

    assert exit_code == 1, worker.stderr[-2000:]
    assert '"undrained": ["workers-legacy"]' in worker.stderr
    pid = child_pid()
    assert pid is not None
    # Killed at close: its page still had ~7 s to go, so a child merely left alone would outlive this.
    wait_for(lambda: not running(pid), "the child to die", timeout=3, interval=0.2)
    assert legacy.state(submission.backend_job_id) is JobState.RUNNING  # left to `bakeoff legacy reap`
    assert count(engine, "outcome IS NULL", [submission.trial_job_id]) == 1
