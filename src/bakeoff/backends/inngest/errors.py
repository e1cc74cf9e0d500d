"""Errors a step function raises or sees, and the control-flow signals of the replay executor.

User-facing errors follow Inngest's Python SDK::

    BakeoffError
    └── InngestError                  the engine refused an operation
        ├── InvalidFunction           also ValueError: a create_function argument is wrong (names it)
        ├── InvalidEvent              also ValueError: an event is malformed or too large
        ├── FunctionNotFound          invoke/send named a function this client does not know
        └── RunTimeout                also TimeoutError: wait_for_run gave up
    Exception
    ├── NonRetriableError             raise to fail without further retries
    ├── RetryAfterError               raise to retry no sooner than ``retry_after``
    └── StepError                     raised at a step's call site once its retries ran out

Signals that end one invocation early derive from ``BaseException`` (as in Inngest's SDK) so a
user's ``except Exception`` cannot swallow them: :class:`ResponseInterrupt` (steps to report),
:class:`SkipInterrupt` (a parallel invocation targets another step) and :class:`NestedStepInterrupt`.
"""

from __future__ import annotations

import traceback
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bakeoff.contract import BakeoffError

if TYPE_CHECKING:
    from bakeoff.backends.inngest.protocol import StepOp

__all__ = [
    "FunctionNotFound",
    "InngestError",
    "InvalidEvent",
    "InvalidFunction",
    "NestedStepInterrupt",
    "NonRetriableError",
    "ResponseInterrupt",
    "RetryAfterError",
    "RunTimeout",
    "SkipInterrupt",
    "StepError",
    "serialize_error",
]


class InngestError(BakeoffError):
    """The step engine refused or failed an operation."""


class InvalidFunction(InngestError, ValueError):
    """A ``create_function`` argument is invalid; the message names it."""


class InvalidEvent(InngestError, ValueError):
    """An event is malformed or exceeds a limit; the message names the field."""


class FunctionNotFound(InngestError):
    """No function with that id is registered on this client."""


class RunTimeout(InngestError, TimeoutError):
    """A run did not finish within the time given to ``wait_for_run``."""


class NonRetriableError(Exception):
    """Fail the step or function now; remaining retries are skipped."""

    def __init__(self, message: str | None = None, *, quiet: bool = False) -> None:
        super().__init__(message or "")
        self.message = message or ""
        self.quiet = quiet


class RetryAfterError(Exception):
    """Retry, but no sooner than ``retry_after`` (milliseconds, a timedelta, or a datetime)."""

    def __init__(
        self, message: str | None, retry_after: int | timedelta | datetime, *, quiet: bool = False
    ) -> None:
        super().__init__(message or "")
        self.message = message or ""
        self.retry_after = retry_after
        self.quiet = quiet


class StepError(Exception):
    """A step failed for good (retries exhausted or non-retriable); carries the original error's text."""

    def __init__(self, message: str, name: str, stack: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.stack = stack
        self.extra = extra

    @property
    def error_kind(self) -> str | None:
        kind = self.extra.get("error_kind")
        return kind if isinstance(kind, str) else None

    @classmethod
    def from_dict(cls, error: dict[str, Any]) -> StepError:
        known = {"name", "message", "stack"}
        extra = {k: v for k, v in error.items() if k not in known}
        return cls(
            str(error.get("message", "")), str(error.get("name", "Error")), error.get("stack"), **extra
        )


class ResponseInterrupt(BaseException):
    """Stop the invocation: these step operations are what it reports."""

    def __init__(self, ops: list[StepOp]) -> None:
        super().__init__(f"{len(ops)} step op(s)")
        self.ops = ops


class SkipInterrupt(BaseException):
    """A targeted invocation reached a step that is not its target."""


class NestedStepInterrupt(BaseException):
    """A step was called from inside another step's callback."""


def serialize_error(exc: BaseException) -> dict[str, Any]:
    """The ``{name, message, stack}`` shape Inngest stores for an error, plus ``error_kind`` if any."""
    if isinstance(exc, StepError):
        return {"name": exc.name, "message": exc.message, "stack": exc.stack, **exc.extra}
    error: dict[str, Any] = {
        "name": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc)),
    }
    for source in (exc, exc.__cause__):
        kind = getattr(source, "error_kind", None)
        if isinstance(kind, str) and kind:
            error["error_kind"] = kind
            break
    return error
