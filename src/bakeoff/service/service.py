"""The service's state behind the HTTP routes: one Router, its arms, and the evaluation snapshot.

:class:`Service` is what the routes call. It owns one :class:`~bakeoff.router.Router` per process,
built over the arms as ``bakeoff worker`` builds them, and a :class:`Snapshot` of the experiment's
rule and overrides that a background thread re-reads every ``state_refresh_seconds``: an OFREP
evaluation answers from the snapshot with no I/O and writes nothing, while a submit always applies
the live rule (the Router checks it in the statement that records the job).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from bakeoff.contract import ARM_NAMES, Health, ImportRequest, InvalidRequest, JobBackend, Submission
from bakeoff.db.sql import load_queries
from bakeoff.metrics import Recorder
from bakeoff.metrics.tracing import TRACE_CONTEXT_EVENT
from bakeoff.router import Decision, Experiment, ExperimentState, Router, UnknownExperiment
from bakeoff.service.settings import ServiceSettings
from bakeoff.service.telemetry import Telemetry

__all__ = ["BackendFactory", "ExperimentSummary", "Service", "Snapshot", "build_service"]

logger = logging.getLogger(__name__)

QUERIES = load_queries("bakeoff.service")
STATEMENTS = {name: text(sql) for name, sql in QUERIES.items()}
HEALTH_TIMEOUT_SECONDS = 5.0

BackendFactory = Callable[..., JobBackend]


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """The experiment's rule and unit overrides as last read: evaluations answer from it, no I/O."""

    state: ExperimentState
    overrides: Mapping[str, str]
    read_at: float = field(default_factory=time.monotonic)

    def decide(self, unit_key: str) -> Decision:
        """The arm that would serve ``unit_key``'s import now, and why (overrides to unknown arms ignored)."""
        override = self.overrides.get(unit_key)
        if override is not None and override not in self.state.arms:
            override = None
        return self.state.decide(unit_key, override)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExperimentSummary:
    """``GET /v1/experiments/{name}``: the stored state, the overrides and the jobs per arm."""

    state: ExperimentState
    overrides: dict[str, str]
    counts: dict[str, dict[str, int]]


class Service:
    """One Router and its arms, shared by every request of this process (thread-safe)."""

    def __init__(
        self,
        engine: Engine,
        *,
        router: Router,
        backends: Mapping[str, JobBackend],
        settings: ServiceSettings,
        telemetry: Telemetry | None = None,
        owns_backends: bool = True,
    ) -> None:
        self.engine = engine
        self.router = router
        self.backends = backends
        self.settings = settings
        self.telemetry = telemetry or Telemetry()
        self.recorder = Recorder(engine)
        self._owns_backends = owns_backends
        self._snapshot = Snapshot(state=router.state, overrides=router.store.overrides(router.name))
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    @property
    def experiment(self) -> str:
        return self.router.name

    # -- evaluation -----------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self) -> Snapshot:
        """Re-read the rule and the overrides now (after an admin change, and every refresh interval)."""
        with self._refresh_lock:
            state = self.router.refresh()
            overrides = self.router.store.overrides(self.experiment)
            self._snapshot = Snapshot(state=state, overrides=overrides)
        return self._snapshot

    def start(self) -> None:
        """Start re-reading the snapshot in the background."""
        if self._refresher is None:
            self._stop.clear()
            self._refresher = threading.Thread(
                target=self._refresh_loop, name="bakeoff-serve-state", daemon=True
            )
            self._refresher.start()

    def _refresh_loop(self) -> None:
        failing = False  # warn when re-reading starts failing and when it recovers, not every second
        while not self._stop.wait(self.settings.state_refresh_seconds):
            try:
                self.refresh()
            except Exception as exc:  # a database blip must not end the loop; /readyz reports it
                if not failing:
                    logger.warning(
                        "cannot re-read experiment %s (%s); evaluations keep the last state",
                        self.experiment,
                        type(exc).__name__,
                    )
                failing = True
            else:
                if failing:
                    logger.warning("re-reading experiment %s works again", self.experiment)
                failing = False

    # -- imports ------------------------------------------------------------------------------

    def submit(self, request: ImportRequest) -> Submission:
        """Route one import through the Router (timed, and traced when tracing is on)."""
        submission, trace_context = self.telemetry.traced_submit(
            self.experiment, lambda: self.router.submit(request)
        )
        if trace_context and not submission.duplicate:
            self._store_trace_context(submission, trace_context)
        return submission

    def _store_trace_context(self, submission: Submission, trace_context: dict[str, str]) -> None:
        """Let the worker's attempt spans link to this submit span (the job is committed already)."""
        detail = {**trace_context, "arm": submission.served_arm, "experiment": submission.experiment}
        try:
            self.recorder.event(submission.trial_job_id, TRACE_CONTEXT_EVENT, detail=detail)
        except Exception:  # the job is taken; a lost trace link must not turn it into an error
            logger.warning("could not store the trace context of %s", submission.trial_job_id, exc_info=True)

    def trial_job(self, trial_job_id: UUID) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """One job's lifecycle row and its events, or None when there is no such job."""
        with self.engine.connect() as conn:
            row = conn.execute(STATEMENTS["select_trial_job"], {"trial_job_id": trial_job_id}).first()
        if row is None:
            return None
        events = [
            {"at": at, "event": event, "attempt": attempt, "detail": detail}
            for at, event, attempt, detail in self.recorder.events(trial_job_id)
        ]
        return dict(row._mapping), events

    # -- experiment -----------------------------------------------------------------------------

    def check_experiment(self, name: str) -> None:
        """Raise :class:`UnknownExperiment` unless ``name`` is the experiment this service routes."""
        if name != self.experiment:
            raise UnknownExperiment(
                f"experiment {name!r} is not served here; this service routes {self.experiment!r}"
            )

    def summary(self) -> ExperimentSummary:
        state = self.router.refresh()
        with self.engine.connect() as conn:
            rows = conn.execute(STATEMENTS["arm_counts"], {"experiment": self.experiment}).all()
        counts = {arm: _empty_counts() for arm in state.arms}
        for row in rows:
            values = dict(row._mapping)
            arm = values.pop("arm")
            counts[arm] = {key: int(value) for key, value in values.items()}
        return ExperimentSummary(
            state=state, overrides=self.router.store.overrides(self.experiment), counts=counts
        )

    def kill(self, arm: str) -> None:
        self.router.kill(arm)
        self.refresh()

    def revive(self, arm: str) -> None:
        self.router.revive(arm)
        self.refresh()

    def set_weights(self, weights: Mapping[str, float]) -> None:
        self.router.set_weights(weights)
        self.refresh()

    def set_override(self, unit_key: str, arm: str) -> None:
        self.router.set_override(unit_key, arm)
        self.refresh()

    def clear_override(self, unit_key: str) -> bool:
        removed = self.router.clear_override(unit_key)
        self.refresh()
        return removed

    # -- health ---------------------------------------------------------------------------------

    def database_ok(self) -> tuple[bool, str]:
        try:
            with self.engine.connect() as conn:
                conn.execute(STATEMENTS["ping"]).one()
        except Exception as exc:
            return (
                False,
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
            )
        return True, "ok"

    def arm_health(self) -> dict[str, Health]:
        """Each arm's ``health()``; an arm whose check raises is reported as not ok."""
        results: dict[str, Health] = {}
        for arm in self.router.state.arms:
            try:
                results[arm] = self.backends[arm].health()
            except Exception as exc:
                results[arm] = Health(ok=False, detail=f"{type(exc).__name__}: {exc}"[:500])
        return results

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the refresher, close the Router and the arms this service built."""
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
            self._refresher = None
        self.router.close()
        if self._owns_backends:
            for backend in self.backends.values():
                try:
                    backend.close()
                except Exception:
                    logger.warning("closing arm %s failed", backend.name, exc_info=True)


def _empty_counts() -> dict[str, int]:
    keys = ("submitted", "hash", "override", "killed", "fallback", "open", "completed", "failed", "cancelled")
    return dict.fromkeys(keys, 0)


def build_service(
    engine: Engine,
    settings: ServiceSettings,
    *,
    backends: Mapping[str, JobBackend] | None = None,
    backend_factory: BackendFactory | None = None,
    telemetry: Telemetry | None = None,
) -> Service:
    """A Service over the stored experiment (created with the default arms when new).

    Without ``backends``, every arm of the experiment is built by ``backend_factory`` (default:
    :func:`bakeoff.backends.create_backend` with the import settings from the environment, as
    ``bakeoff worker`` builds them).
    """
    from bakeoff.router import ExperimentStore

    try:
        arms = ExperimentStore(engine).load(settings.experiment).arms
        declared: Experiment | str = settings.experiment
    except UnknownExperiment:
        declared = Experiment(name=settings.experiment)
        arms = declared.arms
    owns = backends is None
    if backends is None:
        backends = _build_backends(engine, arms, backend_factory)
    missing = [arm for arm in arms if arm not in backends]
    if missing:
        raise InvalidRequest(f"no backend for arm(s) {', '.join(missing)}")
    try:
        router = Router(
            engine, experiment=declared, backends=backends, submit_timeout=settings.submit_timeout
        )
    except BaseException:
        if owns:
            for backend in backends.values():
                backend.close()
        raise
    return Service(
        engine, router=router, backends=backends, settings=settings, telemetry=telemetry, owns_backends=owns
    )


def _build_backends(
    engine: Engine, arms: tuple[str, ...], factory: BackendFactory | None
) -> dict[str, JobBackend]:
    if factory is not None:
        return {arm: factory(arm, engine) for arm in arms}
    from bakeoff.backends import create_backend
    from bakeoff.workload.articles import ImportSettings

    import_settings = ImportSettings.from_env()
    unknown = [arm for arm in arms if arm not in ARM_NAMES]
    if unknown:
        raise InvalidRequest(f"arm(s) {', '.join(unknown)} have no built-in backend; pass a backend factory")
    return {arm: create_backend(arm, engine, import_settings=import_settings) for arm in arms}
