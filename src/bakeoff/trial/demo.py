"""``bakeoff demo``: the whole trial on one machine, from an empty database to a verdict.

It migrates the database, serves a synthetic article corpus on loopback, creates a fresh experiment
(33/33/33), runs workers for every arm, routes imports at a Poisson rate through ``Router.submit``,
waits for every job to end (or a deadline), and writes the report (HTML, Markdown, JSON, plots).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.contract import ARM_NAMES, JobBackend
from bakeoff.trial import DEMO_INNGEST_RETRY_INTERVAL
from bakeoff.trial.runner import (
    ArmProgress,
    TrialConfig,
    TrialRun,
    close_backends,
    document_consistency,
    experiment_name,
    run_arm_workers,
)

__all__ = ["DemoOptions", "DemoResult", "run_demo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What ``bakeoff demo`` was asked to do."""

    trial: TrialConfig = field(default_factory=TrialConfig)
    profile: str = "realistic"
    out: Path = Path("bakeoff-demo")
    aa_backend: str | None = None
    """A/A run: every arm is served by this one backend, so the report must find no winner."""
    latency_scale: float = 1.0
    """Scales the article server's latencies (tests shrink them)."""
    inngest_retry_interval: int | None = DEMO_INNGEST_RETRY_INTERVAL
    """Seconds between the inngest arm's retries, as ``inngest dev --retry-interval``; None keeps
    Inngest's default table (15 s, 30 s, 1 min, ... each plus 0-30 s), which alone can hold the last
    job of a demo for up to 105 s after its first failure."""
    inngest_transport: str = "in-process"
    """``http``: the inngest arm drives ``examples/inngest_import_app.py`` (Inngest's official
    Python SDK) over HTTP instead of running the import in the worker's process."""


@dataclass(frozen=True, kw_only=True)
class DemoResult:
    experiment: str
    all_terminal: bool
    interrupted: bool
    progress: dict[str, ArmProgress]
    submitted: int
    submissions_by_arm: dict[str, int]
    """Served arms as ``Router.submit`` returned them."""
    documents: dict[str, int]
    submit_errors: list[str]
    open_jobs: list[dict[str, Any]]
    report_paths: dict[str, Path]
    verdict: dict[str, Any]
    arms_summary: list[dict[str, Any]]
    elapsed_seconds: float
    notes: tuple[str, ...] = ()
    """How the arms were run, where it bears on the numbers (also in the report)."""


def _build_backends(
    engine: Engine, options: DemoOptions, import_settings: object, inngest_app_url: str | None = None
) -> dict[str, JobBackend]:
    def build(arm: str) -> JobBackend:
        extra: dict[str, Any] = {"retry_interval": options.inngest_retry_interval} if arm == "inngest" else {}
        if arm == "inngest" and inngest_app_url is not None:
            extra.update(transport="http", app_url=inngest_app_url)
        return create_backend(arm, engine, import_settings=import_settings, **extra)

    if options.aa_backend is not None:
        return dict.fromkeys(ARM_NAMES, build(options.aa_backend))
    return {arm: build(arm) for arm in ARM_NAMES}


def _start_inngest_app(
    engine: Engine, options: DemoOptions, import_settings: object
) -> tuple[Callable[[], None], str | None]:
    """With ``--inngest-transport http``: start the example SDK app; its stop and its URL."""
    if options.inngest_transport != "http" or options.aa_backend not in (None, "inngest"):
        return (lambda: None), None
    from bakeoff.backends.inngest.server.example_app import serve_example_import_app

    app, url = serve_example_import_app(engine, import_settings)
    return app.stop, url


def report_notes(options: DemoOptions) -> tuple[str, ...]:
    """What the report must say about how this demo ran the arms, beside its numbers."""
    if options.aa_backend not in (None, "inngest"):
        return ()
    notes: tuple[str, ...] = ()
    if options.inngest_retry_interval is not None:
        interval = options.inngest_retry_interval
        notes += (
            f"The inngest arm retried every {interval} s (as `inngest dev --retry-interval {interval}`), "
            "not on Inngest's default schedule (15 s, 30 s, 1 min, ..., each plus 0-30 s of jitter), "
            "so its retried jobs finish sooner here than they would on Inngest Cloud.",
        )
    if options.inngest_transport == "http":
        notes += (
            "The inngest arm ran over HTTP (transport http): each step was a call request to "
            "examples/inngest_import_app.py, the import written with Inngest's official Python SDK.",
        )
    return notes


def _since(started: float) -> float:
    return time.monotonic() - started


def _check_consistency(engine: Engine, experiment: str, import_settings: Any) -> bool:
    """Re-fetch a sample of the completed imports while the article server is still up.

    False when Ctrl-C stopped it (the demo then writes its partial report, as after any Ctrl-C).
    """
    from bakeoff.trial.consistency import run_consistency_pass

    try:
        run_consistency_pass(engine, experiment, import_settings)
    except KeyboardInterrupt:
        logger.warning("demo: the consistency pass was interrupted")
        return False
    except Exception:  # the report shows what was checked; the demo's verdict still stands
        logger.warning("demo: the consistency pass failed", exc_info=True)
    return True


def _preload_report_modules() -> None:
    try:
        # plots first: it selects the headless Agg backend before pyplot loads.
        import bakeoff.analysis.plots
        import bakeoff.analysis.store  # noqa: F401
    except Exception:  # the report imports them again and reports any real failure itself
        logger.debug("preloading the report's modules failed", exc_info=True)


def _release(router: Any, backends: Mapping[str, Any], stop_inngest_app: Callable[[], None]) -> None:
    """Close what the trial opened: the router, each arm once, and the inngest app if one was started."""
    router.close()
    close_backends(backends.values())
    stop_inngest_app()


def run_demo(
    engine: Engine,
    options: DemoOptions,
    *,
    on_progress: Any = None,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Run the demo trial; ``on_progress(progress, submitted_total)`` is called as it goes."""
    from bakeoff.db.migrate import upgrade
    from bakeoff.router import Experiment, Router
    from bakeoff.trial.report import write_report
    from bakeoff.workload.article_server import ArticleServer

    started = time.monotonic()
    stop = stop or threading.Event()
    upgrade(engine)
    name = experiment_name("demo-aa" if options.aa_backend else "demo")
    interrupted = False
    with ArticleServer(
        profile=options.profile, seed=options.trial.seed, latency_scale=options.latency_scale
    ) as server:
        import_settings = server.import_settings(read_timeout=3.0, total_timeout=10.0)
        stop_inngest_app, inngest_app_url = _start_inngest_app(engine, options, import_settings)
        backends = _build_backends(engine, options, import_settings, inngest_app_url)
        router = Router(
            engine, experiment=Experiment(name=name, arms=ARM_NAMES, control="legacy"), backends=backends
        )
        run = TrialRun(engine=engine, experiment=name, submit=router.submit, config=options.trial)
        urls = server.article_urls(options.trial.imports)

        def tick(progress: dict[str, ArmProgress] | None = None) -> None:
            if on_progress is not None:
                on_progress(progress if progress is not None else run.progress(), len(run.submissions))

        router_thread = threading.Thread(target=run.route, args=(urls, stop), name="router", daemon=True)
        try:
            with run_arm_workers(backends, concurrency=options.trial.concurrency, stop=threading.Event()):
                try:
                    router_thread.start()
                    while router_thread.is_alive():
                        router_thread.join(timeout=0.5)
                        tick()
                    logger.info("demo: %d imports routed at %.1fs", len(run.submissions), _since(started))
                    # The report's imports (SciPy, pandas, matplotlib: seconds of CPU) load while the
                    # last jobs drain, which is mostly waiting, instead of after them.
                    preload = threading.Thread(target=_preload_report_modules, name="preload", daemon=True)
                    preload.start()
                    all_terminal = run.wait_until_terminal(stop, on_tick=tick)
                    logger.info("demo: every job terminal=%s at %.1fs", all_terminal, _since(started))
                except KeyboardInterrupt:
                    stop.set()  # routing stops before the workers drain, not after
                    raise
        except KeyboardInterrupt:  # the first Ctrl-C, or a second one that cut the drain short
            interrupted = True
            all_terminal = False
        if router_thread.is_alive():  # a submit in flight ends within the router's budget
            router_thread.join(timeout=10)
        logger.info("demo: workers drained at %.1fs", _since(started))
        progress = run.progress()
        open_jobs = run.open_jobs()
        _release(router, backends, stop_inngest_app)
        if not interrupted:
            interrupted = not _check_consistency(engine, name, import_settings)
    notes = report_notes(options)
    report = write_report(engine, name, options.out, notes=notes)
    logger.info("demo: report written at %.1fs", _since(started))
    return DemoResult(
        experiment=name,
        all_terminal=all_terminal and not interrupted,
        interrupted=interrupted or stop.is_set(),
        progress=progress,
        submitted=len(run.submissions),
        submissions_by_arm=dict(Counter(sub.served_arm for sub in run.submissions)),
        documents=document_consistency(engine, name),
        submit_errors=run.submit_errors,
        open_jobs=open_jobs,
        report_paths=report.paths,
        verdict=report.verdict,
        arms_summary=report.arms_summary,
        elapsed_seconds=time.monotonic() - started,
        notes=notes,
    )


def summary_json(result: DemoResult) -> str:
    """The demo's outcome as JSON (for scripts)."""
    return json.dumps(
        {
            "experiment": result.experiment,
            "all_terminal": result.all_terminal,
            "interrupted": result.interrupted,
            "submitted": result.submitted,
            "submissions_by_arm": result.submissions_by_arm,
            "trial_jobs_by_arm": {arm: p.submitted for arm, p in result.progress.items()},
            "finished_by_arm": {arm: p.finished for arm, p in result.progress.items()},
            "documents": result.documents,
            "submit_errors": result.submit_errors,
            "open_jobs": len(result.open_jobs),
            "verdict": result.verdict,
            "report": {k: str(v) for k, v in result.report_paths.items()},
            "elapsed_seconds": round(result.elapsed_seconds, 1),
            "notes": list(result.notes),
        },
        indent=2,
        default=str,
    )
