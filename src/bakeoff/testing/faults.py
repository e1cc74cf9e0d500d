"""Fault injection runs shared by the fault tests (small sizes) and ``benchmarks/faults_report.py`` (full).

Each run routes real imports through :class:`bakeoff.router.Router` to a real arm, injects one kind
of fault, lets the arm recover by its own mechanism and then accounts for every job:

* :func:`run_kill_trial`: SIGKILL of a worker process (its whole process group, so the legacy arm's
  children die with it, as in a container OOM kill) at random points, then a fresh worker;
* :func:`run_restart_trial`: ``pg_ctl restart -m fast`` of a private embedded PostgreSQL mid-run;
* :func:`run_burst`: many threads submitting at once;
* :func:`run_connection_loss`: ``pg_terminate_backend`` of the router's sessions during submits.

The result is a :class:`FaultFigures` row: jobs run, faults injected, jobs lost, duplicate documents
and time to recovery; the checks that must hold are in :meth:`FaultFigures.problems`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from bakeoff.backends import create_backend
from bakeoff.contract import ImportRequest, JobBackend, Submission, SubmitFailed
from bakeoff.db.engine import make_engine
from bakeoff.router import Experiment, Router
from bakeoff.testing import QUERIES, bakeoff_command, single_arm_router, wait_for
from bakeoff.trial.runner import close_backends
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.models import ImportSettings

logger = logging.getLogger(__name__)

WorkerProcess = multiprocessing.process.BaseProcess

PGBOSS_QUEUE = "article-import"
JOB_SECONDS = 0.25
"""Latency of each article (the article server's /test/slow endpoint): jobs are short but not instant."""

RECOVERY_OPTIONS: dict[str, dict[str, Any]] = {
    # pg-boss: an active job of a dead worker expires after expire_in_seconds and is retried.
    "pgboss": {
        "expire_in_seconds": 4,
        "retry_limit": 4,
        "retry_delay": 1,
        "retry_backoff": False,
        "polling_interval_seconds": 0.5,
    },
    # inngest: a step of a dead worker is replayed when its lease (no more heartbeats) runs out.
    "inngest": {"lease": timedelta(seconds=3), "poll_interval": 0.2},
    # legacy: nothing recovers a RUNNING row; `bakeoff legacy reap` is the manual tool.
    "legacy": {"poll_interval": 0.2, "processor": "loop"},
}


def build_backend(
    arm: str, engine: Engine, import_settings: ImportSettings | None, **overrides: Any
) -> JobBackend:
    """The arm built with short recovery settings (worker processes and the router use the same)."""
    return create_backend(
        arm, engine, import_settings=import_settings, **{**RECOVERY_OPTIONS[arm], **overrides}
    )


@dataclass(frozen=True, kw_only=True)
class FaultFigures:
    """What one fault run did, and what it left behind."""

    arm: str
    fault: str
    jobs: int
    """Trial jobs routed (successful submits)."""
    faults: int
    lost: int
    """Trial jobs not terminal after recovery (legacy: after the manual reap)."""
    duplicates: int
    recovery_seconds: float | None
    submit_failures: int = 0
    reaped: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Accounting rules broken (each is also a problem)."""
    remarks: tuple[str, ...] = field(default_factory=tuple)
    """What the run was (workload, shares, timings): shown in the notes column, never a problem."""

    def problems(self) -> list[str]:
        """Every accounting rule this run broke (empty when the arm kept every job)."""
        found = []
        if self.lost:
            found.append(f"{self.arm}/{self.fault}: {self.lost} job(s) lost")
        if self.duplicates:
            found.append(f"{self.arm}/{self.fault}: {self.duplicates} duplicate document(s)")
        return found + list(self.notes)


# --------------------------------------------------------------------------------------------- db


def query(engine: Engine, name: str, **params: Any) -> list[Any]:
    """Rows of a named statement of ``bakeoff/testing/queries.sql``."""
    with engine.begin() as conn:
        return list(conn.execute(text(QUERIES[name]), params).mappings().all())


def db_now(engine: Engine) -> datetime:
    now: datetime = query(engine, "now")[0]["now"]
    return now


def counts(engine: Engine, experiment: str) -> dict[str, int]:
    return {k: int(v) for k, v in query(engine, "experiment_counts", experiment=experiment)[0].items()}


def duplicate_documents(engine: Engine, experiment: str, urls: Sequence[str]) -> int:
    return int(query(engine, "duplicate_documents", experiment=experiment, urls=list(urls))[0]["duplicates"])


def progress(message: str) -> None:
    """A progress line on stderr (the long benchmark runs are otherwise silent for many minutes)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def wait_all_terminal(
    engine: Engine,
    experiment: str,
    *,
    timeout: float,
    label: str,
    interval: float = 1.0,
    before_each_check: Callable[[], object] | None = None,
) -> bool:
    """Until no trial job of ``experiment`` is open (True) or ``timeout`` passes; progress each minute.

    ``before_each_check`` runs before every look (a pg-boss supervisor pass, say)."""
    started = time.monotonic()
    report_at = started + 60.0

    def done() -> bool:
        nonlocal report_at
        if before_each_check is not None:
            before_each_check()
        numbers = counts(engine, experiment)
        if time.monotonic() >= report_at:
            report_at += 60.0
            progress(
                f"{label}: {numbers['terminal']}/{numbers['trial_jobs']} terminal "
                f"after {time.monotonic() - started:.0f} s"
            )
        return numbers["open"] == 0

    return wait_for(done, "every job terminal", timeout=timeout, interval=interval, fail=False)


# -------------------------------------------------------------------------------------- workers


def release_inherited_sockets() -> None:
    """In a forked child, put ``/dev/null`` in place of every socket inherited from the parent.

    A socket lives until its last holder closes it. A child forked while the parent relays a
    connection holds that connection's socket too, so the parent's close never reaches the peer: a
    client behind the relay then waits for ever on a server that has restarted. ``dup2`` over the fd,
    rather than ``close``, keeps the number taken, so a stale parent object that closes it later
    cannot close a socket of the child's that reused the number.
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):  # the listing's own fd is gone by now
                if fd != devnull and stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _worker_main(
    database_url: str, arm: str, allow_hosts: str, concurrency: int, ready: Any, overrides: dict[str, Any]
) -> None:
    """Body of a forked worker process: what ``bakeoff worker --arms ARM`` does, with short recovery."""
    release_inherited_sockets()
    os.setsid()  # its own process group: a kill takes the legacy arm's children too
    os.environ["BAKEOFF_IMPORT_ALLOW_HOSTS"] = allow_hosts
    engine = make_engine(database_url, pool_size=concurrency + 4)  # never the parent's connections
    backend = build_backend(arm, engine, ImportSettings.from_env(), **overrides)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready.set()
    backend.run_workers(concurrency=concurrency, stop=stop)


def start_worker(
    database_url: str,
    arm: str,
    *,
    allow_hosts: str,
    concurrency: int,
    overrides: dict[str, Any] | None = None,
) -> WorkerProcess:
    """A worker process for ``arm`` in its own process group; returns once it is running.

    Forked rather than spawned: on a loaded 2-core machine a fresh interpreter takes 10 s to import
    the arms, which would dwarf the recovery being measured. The child builds its own engine.
    ``overrides`` are backend options on top of :data:`RECOVERY_OPTIONS`.
    """
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(
        target=_worker_main,
        args=(database_url, arm, allow_hosts, concurrency, ready, overrides or {}),
        daemon=False,
    )
    process.start()
    if not ready.wait(60):
        kill_group(process)
        raise RuntimeError(f"the {arm} worker process did not start (exit {process.exitcode})")
    return process


def kill_group(process: WorkerProcess) -> None:
    """SIGKILL a worker process and every process it spawned."""
    assert process.pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.join(timeout=30)


def stop_gracefully(process: WorkerProcess, timeout: float = 60.0) -> None:
    """SIGTERM (drain), then SIGKILL if it does not exit in time."""
    process.terminate()
    process.join(timeout=timeout)
    if process.is_alive():
        kill_group(process)


# ------------------------------------------------------------------------------------- routing


def article_urls(server: ArticleServer, count: int, tag: str) -> list[str]:
    """``count`` distinct URLs of a short job each (distinct URLs make duplicates countable)."""
    return [server.url(f"/test/slow?seconds={JOB_SECONDS}&run={tag}&job={n}") for n in range(count)]


def submit_all(router: Router, urls: Sequence[str], threads: int = 4) -> tuple[list[Submission], int]:
    """Submit one import per URL from ``threads`` threads; (submissions, SubmitFailed count)."""
    failures = 0
    lock = threading.Lock()

    def one(url: str) -> Submission | None:
        nonlocal failures
        try:
            return router.submit(ImportRequest(url=url))
        except SubmitFailed:
            with lock:
                failures += 1
            return None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, urls))
    return [s for s in results if s is not None], failures


# ------------------------------------------------------------------------------------ kill runs


@dataclass
class _KillLog:
    kill_times: list[datetime] = field(default_factory=list)
    in_flight: list[list[UUID]] = field(default_factory=list)


def run_kill_trial(
    database_url: str,
    arm: str,
    *,
    jobs: int = 100,
    kills: int = 4,
    concurrency: int = 4,
    seed: int = 0,
    deadline: float = 240.0,
) -> FaultFigures:
    """SIGKILL ``arm``'s worker process ``kills`` times at random points of a ``jobs``-import run."""
    rng = random.Random(seed)
    engine = make_engine(database_url, pool_size=8)
    experiment = f"faults-kill-{arm}-{seed}-{time.time_ns()}"
    try:
        with ArticleServer(profile="none") as server:
            backend = build_backend(arm, engine, server.import_settings())
            router = single_arm_router(engine, backend, experiment=experiment)
            urls = article_urls(server, jobs, experiment)
            submissions, failures = submit_all(router, urls)
            log = _kill_repeatedly(engine, database_url, arm, server, experiment, kills, concurrency, rng)
            worker = start_worker(
                database_url, arm, allow_hosts=server.allow_hosts_value, concurrency=concurrency
            )
            try:
                _wait_for_recovery(engine, arm, backend, experiment, deadline)
            finally:
                stop_gracefully(worker)
            reaped = _reap_legacy(database_url, engine, backend, experiment) if arm == "legacy" else 0
            figures = _account(engine, arm, "sigkill", experiment, urls, submissions, kills, log)
            router.close()
            close_backends([backend])
        return FaultFigures(**{**figures.__dict__, "submit_failures": failures, "reaped": reaped})
    finally:
        engine.dispose()


def _kill_repeatedly(
    engine: Engine,
    database_url: str,
    arm: str,
    server: ArticleServer,
    experiment: str,
    kills: int,
    concurrency: int,
    rng: random.Random,
) -> _KillLog:
    log = _KillLog()
    for _ in range(kills):
        worker = start_worker(
            database_url, arm, allow_hosts=server.allow_hosts_value, concurrency=concurrency
        )
        time.sleep(rng.uniform(0.0, 0.5))  # a random point of the run...
        # ...at which something is in flight, so every kill interrupts real work.
        wait_for(
            lambda: bool(query(engine, "in_flight", experiment=experiment)),
            "a job in flight",
            timeout=30,
            interval=0.02,
            fail=False,
        )
        in_flight = [r["trial_job_id"] for r in query(engine, "in_flight", experiment=experiment)]
        kill_group(worker)
        log.kill_times.append(db_now(engine))
        log.in_flight.append(in_flight)
    return log


def _wait_for_recovery(
    engine: Engine, arm: str, backend: JobBackend, experiment: str, deadline: float
) -> None:
    """Until every job is terminal; pg-boss's supervisor pass is what expires a dead worker's jobs.

    A killed legacy worker's rows stay RUNNING for good, so for legacy this waits until nothing is
    queued; the caller's graceful stop then drains the live jobs and only the orphans stay RUNNING.
    """

    def settled() -> bool:
        if arm == "pgboss":
            backend.boss.supervise(PGBOSS_QUEUE)  # type: ignore[attr-defined]
        if arm == "legacy":
            # One statement, not backend.state() per open job: 500 round trips a second on a loaded
            # machine slowed the very run they watched. A PENDING row is what state() calls queued.
            return int(query(engine, "legacy_queued", experiment=experiment)[0]["queued"]) == 0
        return counts(engine, experiment)["open"] == 0

    if not wait_for(settled, "every job settled", timeout=deadline, interval=1.0, fail=False):
        logger.warning("%s: jobs still open after %ss", experiment, deadline)


def _reap_legacy(database_url: str, engine: Engine, backend: JobBackend, experiment: str) -> int:
    """Run ``bakeoff legacy reap``; it must list exactly the RUNNING rows the kills left behind."""
    running = {
        r["backend_job_id"]
        for r in query(engine, "open_trial_jobs", experiment=experiment)
        if backend.state(r["backend_job_id"]).value == "running"
    }
    result = subprocess.run(
        bakeoff_command(database_url, "legacy", "reap", "--older-than", "0s"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.endswith("worker_lost")}
    if listed != running:
        raise AssertionError(
            f"legacy reap listed {sorted(listed)} but the RUNNING rows were {sorted(running)}"
        )
    return len(listed)


def _account(
    engine: Engine,
    arm: str,
    fault: str,
    experiment: str,
    urls: Sequence[str],
    submissions: Sequence[Submission],
    faults: int,
    log: _KillLog | None,
) -> FaultFigures:
    numbers = counts(engine, experiment)
    notes = []
    if numbers["trial_jobs"] != len(submissions):
        notes.append(f"{arm}: {numbers['trial_jobs']} trial jobs for {len(submissions)} submissions")
    if numbers["enqueued"] != numbers["trial_jobs"]:
        notes.append(f"{arm}: {numbers['trial_jobs'] - numbers['enqueued']} exposures without a backend job")
    recovery = _kill_recovery(engine, log) if log else None
    return FaultFigures(
        arm=arm,
        fault=fault,
        jobs=numbers["trial_jobs"],
        faults=faults,
        lost=numbers["open"],
        duplicates=duplicate_documents(engine, experiment, urls),
        recovery_seconds=recovery,
        notes=tuple(notes),
    )


def _kill_recovery(engine: Engine, log: _KillLog) -> float | None:
    """Longest time from a kill until every job it interrupted was terminal."""
    worst: float | None = None
    for killed_at, ids in zip(log.kill_times, log.in_flight, strict=True):
        if not ids:
            continue
        finished = query(engine, "last_finished_of", ids=ids)[0]["finished_at"]
        if finished is None:
            continue
        seconds = max(0.0, (finished - killed_at).total_seconds())
        worst = seconds if worst is None else max(worst, seconds)
    return worst


# --------------------------------------------------------------------------------- restart run


@contextlib.contextmanager
def private_server(data_dir: Path) -> Iterator[str]:
    """A private embedded PostgreSQL under ``data_dir`` (migrated), stopped afterwards."""
    from bakeoff.db.embedded import ensure_embedded_server, stop_embedded_server
    from bakeoff.db.migrate import upgrade
    from bakeoff.db.urls import libpq_url

    url = libpq_url(ensure_embedded_server(data_dir).url)
    try:
        engine = make_engine(url, pool_size=1)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        stop_embedded_server(data_dir)


def run_restart_trial(
    data_dir: Path,
    database_url: str,
    *,
    arms: Sequence[str] = ("legacy", "pgboss", "inngest"),
    jobs: int = 200,
    rate: float = 40.0,
    restart_after: float = 0.4,
    weights: Sequence[float] | None = None,
    concurrency: int = 4,
    deadline: float = 240.0,
) -> list[FaultFigures]:
    """Route ``jobs`` imports at ``rate``/s to all arms; restart PostgreSQL once ``restart_after`` are in."""
    from bakeoff.db.embedded import restart_embedded_server
    from bakeoff.trial.runner import run_arm_workers

    engine = make_engine(database_url, pool_size=12)
    experiment = f"faults-restart-{time.time_ns()}"
    try:
        with ArticleServer(profile="none") as server:
            backends = {arm: build_backend(arm, engine, server.import_settings()) for arm in arms}
            router = Router(
                engine,
                experiment=Experiment(
                    name=experiment,
                    arms=tuple(arms),
                    control=arms[0],
                    weights=tuple(weights) if weights is not None else None,
                ),
                backends=backends,
            )
            urls = article_urls(server, jobs, experiment)
            submissions: list[Submission] = []
            failures = 0
            restart_at: datetime | None = None
            restarter = threading.Thread()
            with run_arm_workers(backends, concurrency=concurrency, stop=threading.Event()):
                for index, url in enumerate(urls):
                    if index == int(jobs * restart_after):
                        # Restart in the background, so submits keep arriving while the server is down.
                        restart_at = db_now(engine)
                        restarter = threading.Thread(target=restart_embedded_server, args=(data_dir,))
                        restarter.start()
                    try:
                        submissions.append(router.submit(ImportRequest(url=url)))
                    except SubmitFailed:
                        failures += 1
                    time.sleep(1.0 / rate)
                restarter.join(timeout=120)
                wait_all_terminal(
                    engine,
                    experiment,
                    timeout=deadline,
                    label="pg_restart",
                    interval=0.5,
                    before_each_check=_supervisor_pass(backends.get("pgboss")),
                )
            router.close()
            close_backends(list(backends.values()))
            assert restart_at is not None
            return _restart_figures(engine, experiment, arms, urls, submissions, failures, restart_at)
    finally:
        engine.dispose()


def _supervisor_pass(backend: JobBackend | None) -> Callable[[], object] | None:
    """A pg-boss supervisor pass, which expires the active jobs of a connection the restart cut.

    pg-boss's own supervisor wakes every 60 s by default; a pass per check stands in for that wait.
    """
    if backend is None:
        return None
    return lambda: backend.boss.supervise(PGBOSS_QUEUE)  # type: ignore[attr-defined]


def _restart_figures(
    engine: Engine,
    experiment: str,
    arms: Sequence[str],
    urls: Sequence[str],
    submissions: Sequence[Submission],
    failures: int,
    restart_at: datetime,
) -> list[FaultFigures]:
    rows = []
    overall = _account(engine, "all", "pg_restart", experiment, urls, submissions, 1, None)
    for arm in arms:
        arm_rows = query(engine, "open_trial_jobs", experiment=experiment)
        lost = sum(1 for r in arm_rows if r["served_arm"] == arm)
        first = _first_finish_after(engine, experiment, arm, restart_at)
        rows.append(
            FaultFigures(
                arm=arm,
                fault="pg_restart",
                jobs=sum(1 for s in submissions if s.served_arm == arm),
                faults=1,
                lost=lost,
                duplicates=overall.duplicates if arm == arms[0] else 0,
                recovery_seconds=first,
                submit_failures=failures if arm == arms[0] else 0,
                notes=overall.notes if arm == arms[0] else (),
            )
        )
    return rows


def _first_finish_after(engine: Engine, experiment: str, arm: str, after: datetime) -> float | None:
    """Seconds from the restart until ``arm`` finished a job started after it (throughput resumed)."""
    with engine.begin() as conn:
        row = conn.execute(
            text(QUERIES["first_finished_after_for_arm"]),
            {"experiment": experiment, "arm": arm, "after": after},
        ).first()
    if row is None or row.finished_at is None:
        return None
    return max(0.0, float((row.finished_at - after).total_seconds()))


# ---------------------------------------------------------------------------------- burst run


def run_burst(
    database_url: str,
    *,
    submits: int = 2000,
    threads: int = 8,
    arms: Sequence[str] = ("legacy", "pgboss", "inngest"),
    serve_all_with: str | None = "pgboss",
    concurrency: int = 8,
    deadline: float = 300.0,
    cheap_jobs: bool = False,
    small_page: bool = False,
    worker_processes: bool = False,
    legacy_in_process: bool = False,
) -> FaultFigures:
    """``submits`` submits from ``threads`` threads at once, then every job worked to the end.

    ``serve_all_with`` serves every arm by one backend (an A/A layout), which keeps the small test
    run fast; the benchmark passes None so each arm works its own share. ``cheap_jobs`` points every
    import at a 404 (a terminal ``http_4xx`` failure at once, no retries) for when only the
    router's and queue's accounting is under test, not the import. ``small_page`` serves corpus
    page 0 (2.3 KB, the page the kill and restart runs import) for every URL instead of the
    500-page mix (median 26 KB, mean 85 KB, up to 2.4 MB): a real fetch, extraction and save per job
    at a CPU cost 10,000 jobs can pay on two cores. ``worker_processes`` runs each arm's workers in
    its own forked process (what ``bakeoff worker --arms ARM`` per arm does) instead of threads of
    this process, so the arms do not share one interpreter lock with each other and the submitters.
    ``legacy_in_process`` runs the legacy arm's jobs in its worker process (the arm's existing
    ``spawn_per_job=False`` switch, ``bakeoff legacy loop --in-process``): the job table, claims,
    polling and verdict writes stay, the fresh Python process per job (~0.8 s CPU each) does not.
    """
    if worker_processes and serve_all_with is not None:
        raise ValueError("worker_processes runs each arm's own workers; pass serve_all_with=None")
    legacy: dict[str, Any] = {"spawn_per_job": False} if legacy_in_process else {}
    engine = make_engine(database_url, pool_size=threads + 12)
    experiment = f"faults-burst-{time.time_ns()}"
    try:
        with ArticleServer(profile="none", corpus_size=1 if small_page else 500) as server:
            settings = server.import_settings()
            if serve_all_with is not None:
                options: dict[str, Any] = {}
                if serve_all_with == "pgboss":
                    # pg-boss sleeps its polling interval after every fetch, even a full one, so a
                    # backlog drains at one job per loop per interval: many loops need their connections.
                    options["max_connections"] = max(20, concurrency + 8)
                    if cheap_jobs:
                        options["retry_limit"] = 0
                shared = create_backend(
                    serve_all_with,
                    engine,
                    import_settings=settings,
                    **{**RECOVERY_OPTIONS[serve_all_with], **options},
                )
                backends = dict.fromkeys(arms, shared)
            else:
                backends = {
                    arm: build_backend(arm, engine, settings, **(legacy if arm == "legacy" else {}))
                    for arm in arms
                }
            router = Router(
                engine,
                experiment=Experiment(name=experiment, arms=tuple(arms), control=arms[0]),
                backends=backends,
            )
            page = "/test/status/404" if cheap_jobs else "/articles/{n}"
            urls = [server.url(f"{page.format(n=n)}?run={experiment}&n={n}") for n in range(submits)]
            started = time.monotonic()
            submissions, failures = submit_all(router, urls, threads=threads)
            submit_seconds = time.monotonic() - started
            progress(f"burst: {len(submissions)} submits in {submit_seconds:.0f} s; working them off")
            work_seconds = _work_off(
                database_url, engine, experiment, server, arms, backends,
                concurrency=concurrency, deadline=deadline, worker_processes=worker_processes, legacy=legacy,
            )  # fmt: skip
            router.close()
            close_backends(list(backends.values()))
            figures = _account(engine, "+".join(arms), "burst", experiment, urls, submissions, 0, None)
            events = query(engine, "exposure_event_count", experiment=experiment)[0]
            notes = list(figures.notes)
            if int(events["submitted"]) != len(submissions):
                notes.append(f"{events['submitted']} exposure events for {len(submissions)} submissions")
            served = Counter(s.served_arm for s in submissions)
            remarks = [
                "jobs per arm " + ", ".join(f"{arm} {served[arm]}" for arm in dict.fromkeys(arms)),
                f"{int(events['submitted'])} exposure events",
                f"all terminal {work_seconds:.0f} s after the last submit",
            ]
            if small_page:
                remarks.append(f"every import fetches a {_page_kib(server)} KiB page")
            if legacy_in_process and "legacy" in arms:
                remarks.append("legacy jobs run in its worker process, not a child each")
            return FaultFigures(
                **{
                    **figures.__dict__,
                    "submit_failures": failures,
                    "faults": submits,
                    "recovery_seconds": round(submit_seconds, 2),
                    "notes": tuple(notes),
                    "remarks": tuple(remarks),
                }
            )
    finally:
        engine.dispose()


def _work_off(
    database_url: str,
    engine: Engine,
    experiment: str,
    server: ArticleServer,
    arms: Sequence[str],
    backends: dict[str, JobBackend],
    *,
    concurrency: int,
    deadline: float,
    worker_processes: bool,
    legacy: dict[str, Any],
) -> float:
    """Work every job of the burst to a terminal state; the seconds it took."""
    from bakeoff.trial.runner import run_arm_workers

    started = time.monotonic()
    if worker_processes:
        workers = [
            start_worker(
                database_url,
                arm,
                allow_hosts=server.allow_hosts_value,
                concurrency=concurrency,
                overrides=legacy if arm == "legacy" else None,
            )
            for arm in dict.fromkeys(arms)
        ]
        try:
            wait_all_terminal(engine, experiment, timeout=deadline, label="burst")
        finally:
            for worker in workers:
                stop_gracefully(worker)
    else:
        with run_arm_workers(backends, concurrency=concurrency, stop=threading.Event()):
            wait_all_terminal(engine, experiment, timeout=deadline, label="burst")
    return time.monotonic() - started


def _page_kib(server: ArticleServer) -> str:
    from bakeoff.workload.corpus import render_page

    return f"{len(render_page(server.seed, 0).body) / 1024:.1f}"


# ------------------------------------------------------------------------ connection-loss run


@dataclass(frozen=True, kw_only=True)
class ConnectionLossFigures:
    """Submits made while the router's sessions were being terminated, and what each left behind."""

    committed: int
    failed: int
    terminations: int
    trial_jobs_for_committed: int
    backend_jobs_for_committed: int
    trial_jobs_for_failed: int
    backend_jobs_for_failed: int
    other_errors: tuple[str, ...]


def run_connection_loss(
    database_url: str, *, submits: int = 300, threads: int = 4, kill_every: float = 0.05
) -> ConnectionLossFigures:
    """Submit to pgboss while another session terminates every other session every ``kill_every`` s."""
    engine = make_engine(database_url, pool_size=threads + 2)
    killer = make_engine(database_url, pool_size=1)
    experiment = f"faults-connloss-{time.time_ns()}"
    stop = threading.Event()
    terminations = 0

    def terminate() -> None:
        nonlocal terminations
        while not stop.wait(kill_every):
            with contextlib.suppress(Exception):
                terminations += int(query(killer, "terminate_other_backends")[0]["terminated"])

    try:
        backend = build_backend("pgboss", engine, None)
        router = single_arm_router(engine, backend, experiment=experiment)
        backend.health()  # creates the queue before the faults start
        urls = [f"http://127.0.0.1:9/connloss/{experiment}/{n}" for n in range(submits)]
        outcome: dict[str, str] = {}
        other: list[str] = []

        def one(url: str) -> None:
            try:
                router.submit(ImportRequest(url=url))
                outcome[url] = "committed"
            except SubmitFailed:
                outcome[url] = "failed"
            except Exception as exc:  # anything else breaks the contract; reported, not hidden
                other.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=terminate, daemon=True)
        thread.start()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, urls))
        stop.set()
        thread.join(timeout=10)
        engine.dispose()  # drop pooled connections that may have been terminated
        router.close()
        close_backends([backend])
        return _connection_loss_figures(engine, outcome, terminations, tuple(other))
    finally:
        stop.set()
        engine.dispose()
        killer.dispose()


def _connection_loss_figures(
    engine: Engine, outcome: dict[str, str], terminations: int, other: tuple[str, ...]
) -> ConnectionLossFigures:
    committed = [u for u, o in outcome.items() if o == "committed"]
    failed = [u for u, o in outcome.items() if o == "failed"]

    def count(name: str, urls: list[str]) -> int:
        return int(next(iter(query(engine, name, urls=urls, queue=PGBOSS_QUEUE)[0].values())))

    return ConnectionLossFigures(
        committed=len(committed),
        failed=len(failed),
        terminations=terminations,
        trial_jobs_for_committed=count("trial_jobs_by_url", committed),
        backend_jobs_for_committed=count("pgboss_jobs_by_url", committed),
        trial_jobs_for_failed=count("trial_jobs_by_url", failed),
        backend_jobs_for_failed=count("pgboss_jobs_by_url", failed),
        other_errors=other,
    )


def format_table(rows: Sequence[FaultFigures]) -> str:
    """The per-arm table the benchmark prints and docs/reliability.md quotes."""
    header = (
        "arm",
        "fault",
        "jobs run",
        "faults injected",
        "jobs lost",
        "duplicate docs",
        "recovery s",
        "notes",
    )
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for r in rows:
        recovery = "-" if r.recovery_seconds is None else f"{r.recovery_seconds:.1f}"
        extra = []
        if r.reaped:
            extra.append(f"{r.reaped} reaped by `bakeoff legacy reap`")
        if r.submit_failures:
            extra.append(f"{r.submit_failures} submits raised SubmitFailed")
        extra.extend(r.notes)
        extra.extend(r.remarks)
        lines.append(
            " | ".join(
                (
                    r.arm,
                    r.fault,
                    str(r.jobs),
                    str(r.faults),
                    str(r.lost),
                    str(r.duplicates),
                    recovery,
                    "; ".join(extra),
                )
            )
        )
    return "\n".join("| " + line + " |" for line in lines)
