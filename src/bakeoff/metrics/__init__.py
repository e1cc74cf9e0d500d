"""Metrics: one lifecycle record per job, measured the same way for every arm on the database clock.

The export functions load pandas, so they are imported on first use: the router and the workers,
which only record, start without it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bakeoff.metrics.instrument import Instrumentation, error_kind_of
from bakeoff.metrics.recorder import FinishResult, Recorder

if TYPE_CHECKING:
    from bakeoff.metrics.export import export_trial, load_trial, read_export

__all__ = [
    "FinishResult",
    "Instrumentation",
    "Recorder",
    "error_kind_of",
    "export_trial",
    "load_trial",
    "read_export",
]

_LAZY = {"export_trial", "load_trial", "read_export"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("bakeoff.metrics.export"), name)
    raise AttributeError(f"module 'bakeoff.metrics' has no attribute {name!r}")
