"""Metrics: one lifecycle record per job, measured the same way for every arm on the database clock.

Every name loads on first use: the export functions load pandas, which the router and the workers
(they only record) do without, and the recorder loads SQLAlchemy, which a spawned legacy child does
without (it records its attempt with :mod:`bakeoff.metrics.attempts` on a psycopg connection).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bakeoff.metrics.export import export_trial, load_trial, read_export
    from bakeoff.metrics.instrument import Instrumentation, error_kind_of
    from bakeoff.metrics.recorder import FinishResult, Recorder

__all__ = [
    "FinishResult",
    "Instrumentation",
    "Recorder",
    "error_kind_of",
    "export_trial",
    "load_trial",
    "read_export",
]

_LAZY = {
    "export_trial": "bakeoff.metrics.export",
    "load_trial": "bakeoff.metrics.export",
    "read_export": "bakeoff.metrics.export",
    "Instrumentation": "bakeoff.metrics.instrument",
    "error_kind_of": "bakeoff.metrics.instrument",
    "FinishResult": "bakeoff.metrics.recorder",
    "Recorder": "bakeoff.metrics.recorder",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bakeoff.metrics' has no attribute {name!r}")
