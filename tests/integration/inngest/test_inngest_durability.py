"""Durability: a killed worker loses nothing, and SKIP LOCKED claims run each step exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bakeoff.backends.inngest import Context, Event, Inngest, RunStatus, TriggerEvent, Worker
from bakeoff.testing import wait_for

APP = Path(__file__).with_name("durable_app.py")


def test_worker_killed_mid_step_loses_nothing(
    client: Inngest, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    """SIGKILL during step two: after the lease expires another worker replays; step one is not re-run."""
    replayed_one: list[int] = []

    @client.create_function(fn_id="durable", trigger=TriggerEvent(event="t/durable"))
    def durable(ctx: Context) -> Any:
        ctx.step.run("one", lambda: replayed_one.append(1) or 1)
        return ctx.step.run("two", lambda: "done by the survivor")

    child = subprocess.Popen([sys.executable, str(APP), client.database_url, str(tmp_path), client.app_id])
    try:
        [event_id] = client.send(Event(name="t/durable"))
        [run_id] = client.runs_for_event(event_id)
        wait_for((tmp_path / "two").exists, "step two to start (its marker file)")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert client.get_run(run_id).status is RunStatus.RUNNING
    start_worker(concurrency=1)
    run = client.wait_for_run(run_id, timeout=30)
    assert (run.status, run.output) == (RunStatus.COMPLETED, "done by the survivor")
    assert replayed_one == [], "the memoized step was not executed again"
    assert (tmp_path / "one").read_text() == "ran\n"
    assert [(s.step_key, s.attempts) for s in run.steps] == [("one", 1), ("two", 1)]


def test_two_worker_pools_run_every_step_exactly_once(module_database_url: str) -> None:
    """Two apps (8 threads) claim the same queue with SKIP LOCKED: 30 runs x 3 steps, each step once."""
    executions: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def make_app() -> Inngest:
        app = Inngest(
            app_id="pool", database_url=module_database_url, poll_interval=0.1, lease=timedelta(seconds=30)
        )

        @app.create_function(fn_id="exactly-once", trigger=TriggerEvent(event="t/once"))
        def fn(ctx: Context) -> Any:
            def record(name: str) -> str:
                with lock:
                    executions[(ctx.run_id, name)] += 1
                return name

            return [ctx.step.run(name, record, name) for name in ("a", "b", "c")]

        return app

    apps = [make_app(), make_app()]
    workers = [app.start_worker(concurrency=4) for app in apps]
    try:
        event_ids = apps[0].send([Event(name="t/once", data={"i": i}) for i in range(30)])
        run_ids = [r for e in event_ids for r in apps[0].runs_for_event(e)]
        runs = [apps[0].wait_for_run(r, timeout=60) for r in run_ids]
    finally:
        for worker in workers:
            worker.stop()
        for app in apps:
            app.close()
    assert all(r.status is RunStatus.COMPLETED and r.output == ["a", "b", "c"] for r in runs)
    assert len(executions) == 90 and set(executions.values()) == {1}
    served = {a.worker.split("/")[0] for r in runs for a in r.attempts}
    assert len(served) == 2, "both pools took work"
