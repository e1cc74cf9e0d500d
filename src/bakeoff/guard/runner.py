"""One guard round per experiment, and the loop that repeats it.

A round takes a transaction-scoped advisory lock on the experiment (a second guard process skips
the round, so only one acts), loads the current phase from the database, runs
:func:`bakeoff.analysis.guardrail.check`, and for each arm to kill:

1. kills it in the router's stored state (``bakeoff.experiments.killed_arms``, with the router's own
   statements, row locked as :meth:`~bakeoff.router.store.ExperimentStore.kill` does): every router
   reads that state on its next submit, so the arm's units are served by the control, with
   ``assignment_reason = 'killed'``;
2. writes a ``guardrail_kill`` row in ``bakeoff.job_events`` (filed under the arm's latest job, with
   every number of the breach) and an ``observations`` row (kind ``guardrail_kill``), in the same
   transaction as the kill, so the three commit together;
3. logs one WARNING line after the commit.

A sample-ratio mismatch or an arm without traffic is logged as a WARNING and makes the exit code
:data:`EXIT_ALERT`; it never kills. ``dry_run`` logs what it would kill and changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from bakeoff.analysis.guardrail import GuardrailResult, check
from bakeoff.guard.settings import STATEMENTS, GuardSettings, SettingsStore
from bakeoff.metrics.export import load_trial
from bakeoff.router.experiment import ExperimentState
from bakeoff.router.store import STATEMENTS as ROUTER_STATEMENTS
from bakeoff.router.store import ExperimentStore

__all__ = ["EXIT_ALERT", "EXIT_KILLED", "EXIT_OK", "GuardRound", "exit_code", "guard_once", "run_guard"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ALERT = 3
"""A sample-ratio mismatch or an arm without traffic: a person must look (the report's 'invalid' code)."""
EXIT_KILLED = 4
"""An arm was killed (or, with ``dry_run``, would have been)."""


@dataclass(frozen=True, kw_only=True)
class GuardRound:
    """What one round did for one experiment."""

    experiment: str
    acted: bool
    """False when another process held the experiment's guard lock (or the guard is off)."""
    dry_run: bool = False
    result: GuardrailResult | None = None
    killed: tuple[str, ...] = ()
    note: str = ""

    @property
    def alerts(self) -> int:
        return 0 if self.result is None else len(self.result.alerts)

    def to_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "event": "guard_round",
            "experiment": self.experiment,
            "acted": self.acted,
            "dry_run": self.dry_run,
            "phase": None if result is None else result.phase,
            "checks": 0 if result is None else len(result.checks),
            "breaches": [] if result is None else [c.to_dict() for c in result.breaches],
            "killed": list(self.killed),
            "alerts": [] if result is None else [a.to_dict() for a in result.alerts],
            "note": self.note,
        }


def exit_code(rounds: list[GuardRound]) -> int:
    """:data:`EXIT_KILLED` if an arm was killed, else :data:`EXIT_ALERT` on any alert, else 0."""
    if any(r.killed for r in rounds):
        return EXIT_KILLED
    return EXIT_ALERT if any(r.alerts for r in rounds) else EXIT_OK


def _kill(conn: Connection, experiment: str, arm: str) -> bool:
    """Kill ``arm`` in the router's stored state, in the guard's transaction (with its records).

    The router's own statements, row locked as ``ExperimentStore.kill`` does it, so the kill, its
    job event and its observation commit together or not at all. False when already killed.
    """
    state = ExperimentState.from_row(
        conn.execute(ROUTER_STATEMENTS["lock_experiment"], {"name": experiment}).one()
    )
    if arm in state.killed_arms or arm == state.control or arm not in state.arms:
        return False
    killed = [a for a in state.arms if a in state.killed_arms | {arm}]
    conn.execute(ROUTER_STATEMENTS["update_killed_arms"], {"name": experiment, "killed_arms": killed})
    return True


def _record_kill(conn: Connection, result: GuardrailResult, arm: str, state_phase: int) -> None:
    breaches = [c for c in result.breaches if c.arm == arm]
    note = "guardrail: " + "; ".join(c.describe() for c in breaches)
    detail = {
        "experiment": result.experiment,
        "phase": state_phase,
        "arm": arm,
        "breaches": [c.to_dict() for c in breaches],
        "spec": result.spec.to_dict(),
    }
    job = conn.execute(
        STATEMENTS["select_latest_served_job"],
        {"experiment": result.experiment, "phase": state_phase, "arm": arm},
    ).first()
    if job is not None:
        params = {"trial_job_id": job.trial_job_id, "detail": json.dumps(detail, default=str)}
        conn.execute(STATEMENTS["insert_kill_event"], params)
    conn.execute(
        STATEMENTS["insert_kill_observation"],
        {"experiment": result.experiment, "arm": arm, "value": breaches[0].estimate or 0.0, "note": note},
    )


def _check_experiment(engine: Engine, settings: GuardSettings, dry_run: bool) -> GuardRound:
    name = settings.experiment
    with engine.begin() as conn:
        if not conn.execute(STATEMENTS["try_lock"], {"experiment": name}).scalar_one():
            return GuardRound(experiment=name, acted=False, dry_run=dry_run, note="another guard is acting")
        store = ExperimentStore(engine)
        state = store.load(name)
        trial = load_trial(engine, experiment=name, phase=state.phase)
        result = check(trial, settings.spec(state))
        for alert in result.alerts:
            logger.warning("guard %s: alert: %s", name, alert.message, extra={"alert": alert.to_dict()})
        killed: dict[str, str] = {}
        for arm in result.kill:
            line = "; ".join(c.describe() for c in result.breaches if c.arm == arm)
            if dry_run or _kill(conn, name, arm):
                killed[arm] = line
                if not dry_run:
                    _record_kill(conn, result, arm, state.phase)
    for arm, line in killed.items():  # after the commit: a line never names a kill rolled back
        how = "would kill arm {} (dry run)" if dry_run else "killed arm {}"
        logger.warning("guard %s: %s: %s", name, how.format(arm), line)
    return GuardRound(experiment=name, acted=True, dry_run=dry_run, result=result, killed=tuple(killed))


def guard_once(engine: Engine, experiment: str | None = None, *, dry_run: bool = False) -> list[GuardRound]:
    """One round over ``experiment`` (or every experiment whose guard is enabled)."""
    settings_store = SettingsStore(engine)
    if experiment is not None:
        settings = settings_store.get(experiment)
        if not settings.enabled:
            ExperimentStore(engine).load(experiment)  # an unknown name is an error, not "off"
            return [GuardRound(experiment=experiment, acted=False, dry_run=dry_run, note="guardrail is off")]
        chosen = [settings]
    else:
        chosen = settings_store.enabled()
    return [_check_experiment(engine, settings, dry_run) for settings in chosen]


def run_guard(
    engine: Engine,
    experiment: str | None,
    every: float,
    dry_run: bool,
    stop_event: threading.Event,
    *,
    on_round: Callable[[GuardRound], None] | None = None,
) -> int:
    """Run :func:`guard_once` every ``every`` seconds until ``stop_event`` is set; returns the exit code.

    A round that fails (the database restarts) is logged and retried at the next tick: the guard
    must outlive a hiccup. The exit code summarises every round (:func:`exit_code`).
    """
    if every <= 0:
        raise ValueError(f"every must be positive, got {every}")
    code = EXIT_OK
    while not stop_event.is_set():
        try:
            rounds = guard_once(engine, experiment, dry_run=dry_run)
        except Exception:
            logger.exception("guard round failed; retrying in %.0f s", every)
            rounds = []
        for r in rounds:
            if on_round is not None:
                on_round(r)
        code = max(code, exit_code(rounds))  # a kill (4) outranks an alert (3)
        stop_event.wait(every)
    return code


DEFAULT_EVERY_SECONDS = 600.0
"""How often ``bakeoff worker --guard`` and ``bakeoff serve --guard`` check (``bakeoff guard``'s default)."""


def start_guard_thread(
    engine: Engine, stop_event: threading.Event, *, every: float = DEFAULT_EVERY_SECONDS
) -> threading.Thread:
    """:func:`run_guard` over every enabled experiment in a daemon thread beside a worker or server.

    Several processes may run it: only one acts per experiment and round, by the guard's advisory lock.
    """
    thread = threading.Thread(
        target=run_guard, args=(engine, None, every, False, stop_event), name="bakeoff-guard", daemon=True
    )
    thread.start()
    return thread
