"""The guard: runs the guardrail (:mod:`bakeoff.analysis.guardrail`) on a schedule and acts on it.

:func:`guard_once` checks each experiment whose guardrail is enabled (``bakeoff guard enable``),
kills a harmful arm through the router's experiment store, and records the kill; :func:`run_guard`
repeats it every few minutes until a stop event is set (``bakeoff guard``, ``bakeoff worker
--guard``, ``bakeoff serve --guard``). Settings live in ``bakeoff.guardrail_settings``.
"""

from __future__ import annotations

from bakeoff.guard.runner import (
    DEFAULT_EVERY_SECONDS,
    EXIT_ALERT,
    EXIT_KILLED,
    GuardRound,
    guard_once,
    run_guard,
    start_guard_thread,
)
from bakeoff.guard.settings import GuardSettings, SettingsStore

__all__ = [
    "DEFAULT_EVERY_SECONDS",
    "EXIT_ALERT",
    "EXIT_KILLED",
    "GuardRound",
    "GuardSettings",
    "SettingsStore",
    "guard_once",
    "run_guard",
    "start_guard_thread",
]
