"""The Router: the shim in the import path that assigns an arm, records the exposure and enqueues.

``submit`` runs as ONE transaction on one connection of the router's own pool, whose sessions carry
the submit budget as their ``statement_timeout``::

    decide           from the routing rule last seen (phase, salt, killed arms): no I/O
    backend.submit   the served arm enqueues on the connection, under the time budget
      on error/timeout: ROLLBACK (only the arm's work was written), BEGIN, read the clock,
                        and the control arm enqueues instead
    routed           the exposure, the enqueue and their events in one statement (metrics Recorder),
                     written only if the stored rule is still the one decided under
    COMMIT

so an exposure without its job (or a job without its exposure) can never be committed, and the
router adds one statement to the arm's own. When ``routed`` finds the rule changed (a kill switch, a
new phase or an override set by any process), it writes nothing: the transaction rolls back, the
router reads the live state (``route_state``) and routes again in a new transaction. A change
therefore applies to the very next submit in every process. If the control arm fails too,
everything rolls back and :class:`~bakeoff.contract.SubmitFailed` is raised.
:meth:`Router.assign` answers from the last rule seen, without I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from bakeoff.contract import (
    BackendError,
    DatabaseUnavailable,
    ImportRequest,
    InvalidRequest,
    JobBackend,
    Submission,
    SubmitFailed,
)
from bakeoff.db.driver import driver_connection
from bakeoff.db.engine import make_engine
from bakeoff.db.sql import pyformat
from bakeoff.db.urls import mask_url
from bakeoff.metrics import Recorder, RoutedJob
from bakeoff.router.experiment import Decision, Experiment, ExperimentState, check_arm, check_unit_key
from bakeoff.router.guard import Watchdog
from bakeoff.router.store import QUERIES, STATEMENTS, ExperimentStore

__all__ = ["DEFAULT_SUBMIT_TIMEOUT", "BackendTimeout", "Router"]

logger = logging.getLogger(__name__)

DEFAULT_SUBMIT_TIMEOUT = 2.0
IDEMPOTENCY_CONSTRAINT = "trial_jobs_idempotency_key"
MAX_ERROR_DETAIL = 1000
CANCEL_TIMEOUT = 1.0
MAX_ROUTING_ATTEMPTS = 4
SUBMIT_POOL_SIZE = 10
ROUTE_STATE_SQL = pyformat(QUERIES["route_state"])
"""Every submit's first statement, run on the driver's connection as a prepared statement."""


class BackendTimeout(BackendError):
    """A backend's submit outlived the router's time budget."""


@dataclass(frozen=True, slots=True)
class _Fallback:
    """When and why the assigned arm could not take a job (the control arm served it)."""

    at: datetime
    """The database clock when the control arm took over."""
    monotonic_at: float
    detail: dict[str, Any]

    def started_ago(self, started: float) -> float:
        """Seconds from ``started`` (a ``time.monotonic()`` reading) to the fallback."""
        return max(0.0, self.monotonic_at - started)


class _Duplicate(Exception):
    """Internal: the idempotency key is taken; answer with the first Submission (if already read)."""

    def __init__(self, first: Submission | None = None) -> None:
        super().__init__()
        self.first = first


class Router:
    """Routes article imports to the arms of one experiment (thread-safe; share one per process)."""

    def __init__(
        self,
        engine_or_url: Engine | str,
        *,
        experiment: Experiment | str,
        backends: Mapping[str, JobBackend],
        submit_timeout: float = DEFAULT_SUBMIT_TIMEOUT,
    ) -> None:
        if not 0 < submit_timeout <= 3600:
            raise InvalidRequest(f"submit_timeout must be in (0, 3600] seconds, not {submit_timeout!r}")
        self._owns_engine = isinstance(engine_or_url, str)
        self.engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        self.submit_timeout = float(submit_timeout)
        self.store = ExperimentStore(self.engine)
        self._recorder = Recorder(self.engine)
        # The budget as a session setting of a pool of our own: it costs no statement per submit,
        # and does not leak into other users of the caller's engine.
        self._submit_engine = make_engine(
            self.engine.url,
            pool_size=SUBMIT_POOL_SIZE,
            connect_args={"options": f"-c statement_timeout={max(1, round(self.submit_timeout * 1000))}"},
        )
        try:
            self._state = self._load_state(experiment, backends)
        except OperationalError as exc:
            self._dispose_engines()
            raise DatabaseUnavailable(
                f"the router cannot read experiment state from {mask_url(self.engine.url)}: {_describe(exc)}"
            ) from exc
        except BaseException:
            self._dispose_engines()
            raise
        self._backends = backends
        self._watchdog = Watchdog()
        self._closed = False

    def _dispose_engines(self) -> None:
        self._submit_engine.dispose()
        if self._owns_engine:
            self.engine.dispose()

    def _load_state(
        self, experiment: Experiment | str, backends: Mapping[str, JobBackend]
    ) -> ExperimentState:
        if isinstance(experiment, Experiment):
            state = self.store.ensure(experiment)
        else:
            state = self.store.load(experiment)
        missing = [arm for arm in state.arms if arm not in backends]
        if missing:
            raise InvalidRequest(f"backends has no backend for arm(s) {', '.join(missing)}")
        return state

    # -- state ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self._state.name

    @property
    def state(self) -> ExperimentState:
        """The last experiment state this router saw (refreshed by its own changes, by :meth:`refresh`,
        and by a submit that finds the stored rule changed)."""
        return self._state

    def refresh(self) -> ExperimentState:
        """Reload the experiment state from the database now."""
        self._state = self.store.load(self.name)
        return self._state

    def assign(self, unit_key: str) -> str:
        """The arm ``unit_key`` is assigned to by hash in the current phase (pure: no I/O)."""
        if not unit_key or not isinstance(unit_key, str):
            check_unit_key(unit_key)  # raises, naming the problem
        return self._state.layout.assign(unit_key)

    def decide(self, unit_key: str, override_arm: str | None = None) -> Decision:
        """Assigned arm, served arm and reason from the last state seen (pure: no I/O)."""
        check_unit_key(unit_key)
        if override_arm is not None:
            check_arm(self._state.arms, override_arm, field_name="override_arm")
        return self._state.decide(unit_key, override_arm)

    def kill(self, arm: str) -> ExperimentState:
        """Serve ``arm``'s units by the control arm (no new phase; assignments unchanged)."""
        self._state = self.store.kill(self.name, arm)
        return self._state

    def revive(self, arm: str) -> ExperimentState:
        """Serve ``arm``'s units by ``arm`` again."""
        self._state = self.store.revive(self.name, arm)
        return self._state

    def set_weights(self, weights: Mapping[str, float]) -> ExperimentState:
        """New weights: a new phase with a new derived salt (same weights: no change)."""
        self._state = self.store.set_weights(self.name, weights)
        return self._state

    def set_override(self, unit_key: str, arm: str) -> None:
        """Pin ``unit_key`` to ``arm`` for every router of this experiment."""
        self.store.set_override(self.name, unit_key, arm)

    def clear_override(self, unit_key: str) -> bool:
        """Remove ``unit_key``'s override; True when there was one."""
        return self.store.clear_override(self.name, unit_key)

    # -- submit --------------------------------------------------------------------------------

    def submit(self, request: ImportRequest, *, override_arm: str | None = None) -> Submission:
        """Route one import: exposure and enqueue commit together, or nothing is written."""
        if self._closed:
            raise SubmitFailed("this router is closed; nothing was written")
        if not isinstance(request, ImportRequest):
            raise InvalidRequest(f"request must be an ImportRequest, not {type(request).__name__}")
        if override_arm is not None:
            check_arm(self._state.arms, override_arm, field_name="override_arm")
        try:
            fresh = False  # the first attempt routes by the rule last seen
            for _ in range(MAX_ROUTING_ATTEMPTS):
                try:
                    submission = self._submit_once(request, override_arm, fresh=fresh)
                except _Duplicate as duplicate:
                    first = duplicate.first or self._existing(request)
                    if first is not None:
                        return first
                    # The first submit's row vanished between our conflict and our read: route afresh.
                    submission = None
                if submission is not None:
                    return submission
                fresh = True  # the rule changed (or the key's first row vanished): read it live
        except (DBAPIError, psycopg.Error) as exc:
            # The router's own statements failed (database gone, connection lost): the transaction
            # rolled back, so the caller learns that this job was not taken.
            raise SubmitFailed(
                f"the router could not record the job ({_describe(exc)}); nothing was written"
            ) from exc
        raise SubmitFailed(
            f"the experiment's state or idempotency key {request.idempotency_key!r} kept changing under "
            f"{MAX_ROUTING_ATTEMPTS} attempts to route; nothing was written"
        )

    def _submit_once(
        self, request: ImportRequest, override_arm: str | None, *, fresh: bool
    ) -> Submission | None:
        """One routing transaction; None when the stored rule was not the one decided under."""
        trial_job_id = uuid4()
        started = time.monotonic()
        with self._submit_engine.connect() as conn:
            conn.begin()  # _serve may roll back and begin again, so commit through the connection
            try:
                if fresh:
                    state, stored_override, submitted_at = self._route_state(conn, request)
                else:
                    state, stored_override, submitted_at = self._state, None, None
                unit_override = override_arm or _usable(state, stored_override)
                decision = state.decide(request.effective_unit_key, unit_override)
                served, backend_job_id, fallback = self._serve(conn, state, decision, request, trial_job_id)
                if fallback is not None and submitted_at is None:
                    # The first transaction (and its start time) was rolled back: date the exposure
                    # by the database clock at the fallback, less the time the failed arm took.
                    submitted_at = fallback.at - timedelta(seconds=fallback.started_ago(started))
                routed = RoutedJob(
                    trial_job_id=trial_job_id,
                    experiment=state.name,
                    phase=state.phase,
                    salt=state.salt,
                    killed_arms=tuple(sorted(state.killed_arms)),
                    stored_override=stored_override,
                    override_given=override_arm is not None,
                    unit_key=request.effective_unit_key,
                    assigned_arm=decision.assigned_arm,
                    served_arm=served,
                    assignment_reason="fallback" if fallback is not None else decision.reason,
                    decided_reason=decision.reason,
                    url=request.url,
                    idempotency_key=request.idempotency_key,
                    backend_job_id=backend_job_id,
                    submitted_at=submitted_at,
                    fallback_at=None if fallback is None else fallback.at,
                    fallback_detail=None if fallback is None else fallback.detail,
                )
                recorded = self._recorder.routed(routed, conn=conn)
            except psycopg.errors.UniqueViolation as exc:
                _abandon(conn)
                # A concurrent submit committed the same idempotency key first: ours (and the arm's
                # enqueue) rolls back, and the caller gets the first Submission.
                if exc.diag.constraint_name == IDEMPOTENCY_CONSTRAINT:
                    raise _Duplicate from exc
                raise
            except BaseException:
                _abandon(conn)
                raise
            if not recorded:
                _abandon(conn)  # the arm's enqueue goes with it
                return None
            try:
                conn.commit()
            except DBAPIError as exc:
                # The COMMIT may have reached the server before the connection broke: only the
                # database can say whether this job was taken.
                _abandon(conn)
                if not self._was_committed(trial_job_id, exc):
                    raise
        return Submission(
            trial_job_id=trial_job_id,
            assigned_arm=decision.assigned_arm,
            served_arm=served,
            reason="fallback" if fallback is not None else decision.reason,
            backend_job_id=backend_job_id,
            phase=state.phase,
            experiment=state.name,
        )

    def _route_state(
        self, conn: Connection, request: ImportRequest
    ) -> tuple[ExperimentState, str | None, datetime]:
        """The live rule, this unit's stored override (as stored) and the database clock."""
        unit_key = request.effective_unit_key
        params = {"name": self.name, "unit_key": unit_key, "idempotency_key": request.idempotency_key}
        cursor = driver_connection(conn).cursor(row_factory=namedtuple_row)
        row: Any = cursor.execute(ROUTE_STATE_SQL, params, prepare=True).fetchone()
        if row is None:
            raise SubmitFailed(f"experiment {self.name!r} no longer exists; nothing was written")
        if row.existing_trial_job_id is not None:
            raise _Duplicate(self._duplicate_of(request, row, prefix="existing_"))
        state = self._state
        # Rebuild the snapshot (and its layout) only when the stored rule changed.
        if (row.phase, row.salt, frozenset(row.killed_arms)) != (state.phase, state.salt, state.killed_arms):
            state = self._state = ExperimentState.from_row(row)
        return state, row.override_arm, row.routed_at

    def _serve(
        self,
        conn: Connection,
        state: ExperimentState,
        decision: Decision,
        request: ImportRequest,
        trial_job_id: UUID,
    ) -> tuple[str, str, _Fallback | None]:
        """The served arm enqueues; if it fails, its work is rolled back and the control arm serves."""
        arm = decision.served_arm
        started = time.monotonic()
        try:
            return arm, self._call_backend(conn, arm, request, trial_job_id), None
        except Exception as exc:  # any backend failure is served by the control arm
            if arm == state.control:
                raise SubmitFailed(f"the control arm {arm!r} failed: {_describe(exc)}") from exc
            failure = exc
        elapsed = time.monotonic() - started
        # Nothing but the arm's enqueue was written yet: undo it whole (a statement timeout has
        # aborted the transaction anyway) and start again for the control arm.
        conn.rollback()
        conn.begin()
        fell_back_at = conn.execute(STATEMENTS["fallback_clock"]).one().fell_back_at
        detail = self._fallback_detail(arm, failure, elapsed)
        fallback = _Fallback(fell_back_at, time.monotonic(), detail)
        logger.warning(
            "arm %s failed to take trial job %s; the control arm serves it: %s",
            arm,
            trial_job_id,
            fallback.detail["error"],
            extra={"trial_job_id": str(trial_job_id), "failed_arm": arm},
        )
        try:
            backend_job_id = self._call_backend(conn, state.control, request, trial_job_id)
        except Exception as exc:
            raise SubmitFailed(
                f"arm {arm!r} failed ({_describe(failure)}) and the control arm {state.control!r} "
                f"failed too ({_describe(exc)}); nothing was written"
            ) from exc
        return state.control, backend_job_id, fallback

    def _call_backend(self, conn: Connection, arm: str, request: ImportRequest, trial_job_id: UUID) -> str:
        """The arm's submit under the budget; a late answer counts as a timeout and is discarded."""
        # Looked up before the clock starts: a lazily built arm's construction is not its submit
        # (a construction that raises still falls back, through the caller).
        backend = self._backends[arm]
        token = self._watchdog.arm(self.submit_timeout, partial(_cancel, driver_connection(conn)))
        started = time.monotonic()
        try:
            try:
                backend_job_id = backend.submit(request, trial_job_id=trial_job_id, conn=conn)
            finally:
                # Always disarmed, even on KeyboardInterrupt: a stray cancel must never reach this
                # connection once it is back in the pool serving someone else.
                fired = self._watchdog.disarm(token)
        except Exception as exc:
            if fired or _is_statement_timeout(exc):
                raise BackendTimeout(f"arm {arm!r} exceeded its {self.submit_timeout:g}s budget") from exc
            raise
        elapsed = time.monotonic() - started
        if fired or elapsed > self.submit_timeout:
            raise BackendTimeout(
                f"arm {arm!r} answered after {elapsed:.3f}s; the budget is {self.submit_timeout:g}s"
            )
        if not isinstance(backend_job_id, str) or not backend_job_id:
            raise BackendError(f"arm {arm!r} returned {backend_job_id!r} instead of a job id")
        return backend_job_id

    def _fallback_detail(self, arm: str, failure: Exception, elapsed: float) -> dict[str, Any]:
        return {
            "failed_arm": arm,
            "error_type": type(failure).__name__,
            "error": _describe(failure),
            "timed_out": isinstance(failure, BackendTimeout),
            "elapsed_ms": round(elapsed * 1000, 3),
        }

    def _was_committed(self, trial_job_id: UUID, commit_error: DBAPIError) -> bool:
        """After a failed COMMIT: True when the trial job is in the database all the same."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(STATEMENTS["select_trial_job_id"], {"trial_job_id": trial_job_id}).first()
        except DBAPIError as exc:
            raise SubmitFailed(
                f"the COMMIT of trial job {trial_job_id} failed ({_describe(commit_error)}) and the router "
                f"could not read back whether it was taken ({_describe(exc)}); look it up before retrying"
            ) from commit_error
        if row is not None:
            logger.warning(
                "the COMMIT of trial job %s reported %s, but the job was committed",
                trial_job_id,
                _describe(commit_error),
            )
        return row is not None

    def _existing(self, request: ImportRequest) -> Submission | None:
        """The Submission a concurrent submit committed under this idempotency key (None: gone)."""
        params = {"experiment": self.name, "idempotency_key": request.idempotency_key}
        with self.engine.connect() as conn:
            row = conn.execute(STATEMENTS["select_submission"], params).first()
        return None if row is None else self._duplicate_of(request, row, prefix="")

    def _duplicate_of(self, request: ImportRequest, row: Any, *, prefix: str) -> Submission:
        values = row._asdict()  # a SQLAlchemy Row or a psycopg named tuple
        if values[f"{prefix}url"] != request.url:
            logger.warning(
                "idempotency key %r was first used for %s; returning that submission for %s",
                request.idempotency_key,
                values[f"{prefix}url"],
                request.url,
            )
        return Submission(
            trial_job_id=values[f"{prefix}trial_job_id"],
            assigned_arm=values[f"{prefix}assigned_arm"],
            served_arm=values[f"{prefix}served_arm"],
            reason=values[f"{prefix}reason"],
            backend_job_id=values[f"{prefix}backend_job_id"] or "",
            phase=values[f"{prefix}phase"],
            experiment=self.name,
            duplicate=True,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the watchdog and dispose of an engine this router created."""
        self._closed = True
        self._watchdog.close()
        self._dispose_engines()

    def __enter__(self) -> Router:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _abandon(conn: Connection) -> None:
    """Roll back a failed submit; a connection the driver found broken is discarded first."""
    if not conn.invalidated:
        # The router's own statements run on the driver's connection, where SQLAlchemy does not
        # see a disconnect: tell the pool not to reuse a broken connection.
        try:
            driver: psycopg.Connection[Any] | None = driver_connection(conn)
        except TypeError:  # no driver connection left behind it
            driver = None
        if driver is None or driver.broken or driver.closed:
            conn.invalidate()
    try:
        conn.rollback()  # after an invalidation this only clears the transaction's state
    except DBAPIError:
        logger.debug("rollback after a failed submit failed too", exc_info=True)


def _cancel(driver: psycopg.Connection[Any]) -> None:
    """Cancel the statement running on ``driver`` (called by the watchdog thread)."""
    driver.cancel_safe(timeout=CANCEL_TIMEOUT)


def _is_statement_timeout(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    for _ in range(5):  # a backend may wrap the driver error; follow a few causes
        if cause is None:
            return False
        if isinstance(cause, psycopg.errors.QueryCanceled) or (
            isinstance(cause, DBAPIError) and isinstance(cause.orig, psycopg.errors.QueryCanceled)
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text_ = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text_[:MAX_ERROR_DETAIL]


def _usable(state: ExperimentState, stored_override: str | None) -> str | None:
    """A stored override, unless it names an arm the experiment no longer has (then it is ignored)."""
    if stored_override is not None and stored_override not in state.arms:
        logger.warning("ignoring an override to unknown arm %r", stored_override)
        return None
    return stored_override
