"""Metrics: one lifecycle record per job, measured the same way for every arm on the database clock.

Every name loads on first use: the export functions load pandas, which the router and the workers
(they only record) do without, and the recorder loads SQLAlchemy, which a spawned legacy child does
without (it records its attempt with :mod:`bakeoff.metrics.attempts` on a psycopg connection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeoff._lazy import lazy_attributes

if TYPE_CHECKING:
    from bakeoff.metrics.export import export_trial, load_trial, read_export
    from bakeoff.metrics.instrument import Instrumentation, error_kind_of
    from bakeoff.metrics.recorder import FinishResult, Recorder, RoutedJob

__all__ = [
    "FinishResult",
    "Instrumentation",
    "Recorder",
    "RoutedJob",
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
    "RoutedJob": "bakeoff.metrics.recorder",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
