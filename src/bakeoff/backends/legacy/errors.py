"""The legacy arm's error kinds and errors.

:class:`ErrorKind` names the failures the arm itself records (the handler's ``ImportFailed`` brings
the import's own kinds). :class:`ProtocolError` (a :class:`bakeoff.contract.BakeoffError` and a
``ValueError``) is a line on the child's stdout that is not a well-formed protocol message.
"""

from __future__ import annotations

from enum import StrEnum

from bakeoff.contract import BakeoffError

__all__ = ["ErrorKind", "ProtocolError"]


class ProtocolError(BakeoffError, ValueError):
    """A line on the child's stdout is not a well-formed protocol message."""


class ErrorKind(StrEnum):
    """The legacy arm's own error kinds (the handler's ``ImportFailed`` brings the others)."""

    PROTOCOL_ERROR = "protocol_error"
    WORKER_CRASHED = "worker_crashed"
    WORKER_LOST = "worker_lost"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    SPAWN_FAILED = "spawn_failed"
