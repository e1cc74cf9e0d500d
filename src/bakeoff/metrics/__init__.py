"""Metrics: one lifecycle record per job, measured the same way for every arm on the database clock."""

from __future__ import annotations

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
