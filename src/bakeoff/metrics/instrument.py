"""Shared instrumentation around the handler, used by every arm so all are measured the same way.

Backends wrap each run of the handler in :meth:`Instrumentation.attempt` and report a terminal state
with :meth:`Instrumentation.terminal`. A failure of the instrumentation itself (the metrics database
hiccups) is logged and contained: it never fails the job it measures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from uuid import UUID

from bakeoff.metrics.attempts import contained, error_kind_of, record_attempt

if TYPE_CHECKING:
    from bakeoff.contract import Outcome
    from bakeoff.metrics.recorder import FinishResult, Recorder

__all__ = ["Instrumentation", "error_kind_of"]

logger = logging.getLogger(__name__)
TERMINAL_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Pauses between attempts to record an outcome while the database is unreachable (~15 s)."""


class Instrumentation:
    """Before/after hooks around one attempt of the handler, backed by a :class:`Recorder`."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @contextmanager
    def attempt(self, trial_job_id: UUID | None, attempt: int) -> Iterator[None]:
        """Record the start and the end of one attempt; the handler's own exception propagates."""
        with record_attempt(self.recorder, trial_job_id, attempt):
            yield

    def terminal(
        self,
        trial_job_id: UUID | None,
        outcome: Outcome,
        *,
        error_kind: str | None = None,
        error_message: str | None = None,
        document_id: UUID | None = None,
    ) -> FinishResult | None:
        """Record the job's terminal outcome; None when recording failed (logged)."""
        from sqlalchemy.exc import OperationalError

        from bakeoff.metrics.recorder import FinishResult

        if trial_job_id is None:
            return None
        # The outcome is the one record the analysis cannot do without, and recording it is
        # idempotent: while the database is unreachable (a restart), retry before containing.
        for delay in TERMINAL_RETRY_DELAYS:
            try:
                return self.recorder.finished(
                    trial_job_id,
                    outcome,
                    error_kind=error_kind,
                    error_message=error_message,
                    document_id=document_id,
                )
            except OperationalError:
                logger.warning("recording the outcome of %s failed; retrying in %ss", trial_job_id, delay)
                time.sleep(delay)
        result = self._contained(
            "finished",
            self.recorder.finished,
            trial_job_id,
            outcome,
            error_kind=error_kind,
            error_message=error_message,
            document_id=document_id,
        )
        return result if isinstance(result, FinishResult) else None

    @staticmethod
    def _contained(hook: str, fn: object, *args: object, **kwargs: object) -> object:
        return contained(hook, fn, *args, **kwargs)  # type: ignore[arg-type]
