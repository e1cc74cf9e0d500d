"""The inngest arm over HTTP: the import runs as a function served by an application.

``create_backend("inngest", engine, transport="http", app_url=URL)`` builds
:class:`HttpInngestBackend`: the same arm as :class:`~bakeoff.backends.inngest.adapter.InngestBackend`
(events sent in the router's transaction, the engine's workers, retries and run history), except
that each invocation of ``import-article`` is a call request to ``app_url``, where an application
serves the function with Inngest's official SDK (``examples/inngest_import_app.py`` is one). So a
team points the arm at its own app.

Metrics stay the same as in-process: one attempt per execution of a step. The function has exactly
three steps (fetch, extract, save), so a call made with fewer than three of them memoized runs
one step and is measured as one attempt; the last call only replays and returns the output.
A failed attempt's ``error_kind`` comes from the SDK's error name (an ``ImportFailed`` subclass)
or, for a ``NonRetriableError``, from its ``"<error_kind>: ..."`` message.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from bakeoff.backends.inngest.adapter import IMPORT_FUNCTION, InngestBackend
from bakeoff.backends.inngest.protocol import (
    CallRequest,
    CallResult,
    FunctionFailed,
    Opcode,
    StepsReported,
)
from bakeoff.backends.inngest.server.transport import HttpTransport
from bakeoff.backends.inngest.triggers import FinishedRun
from bakeoff.contract import ConfigurationError
from bakeoff.workload import errors as workload_errors

__all__ = ["DEFAULT_SDK_APP_ID", "HttpInngestBackend", "error_kind_of_payload"]

DEFAULT_SDK_APP_ID = "bakeoff-import"
"""The app id ``examples/inngest_import_app.py`` serves the import under."""
IMPORT_STEPS = 3
_KIND_BY_NAME = {
    cls.__name__: cls.error_kind
    for cls in vars(workload_errors).values()
    if isinstance(cls, type) and issubclass(cls, workload_errors.ImportFailed) and cls.error_kind
}


def error_kind_of_payload(error: dict[str, Any] | None) -> str:
    """The trial's ``error_kind`` of an SDK error payload (``internal_error`` when none is recognised)."""
    if not error:
        return "internal_error"
    name = str(error.get("name") or "")
    if name in _KIND_BY_NAME:
        return str(_KIND_BY_NAME[name])
    prefix = str(error.get("message") or "").split(":", 1)[0].strip()
    return prefix if prefix in workload_errors.ERROR_KINDS else "internal_error"


class StepFailedInApp(Exception):
    """A step attempt that failed in the application (carries the trial's ``error_kind``)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('name')}: {error.get('message')}")
        self.error_kind = error_kind_of_payload(error)


class HttpInngestBackend(InngestBackend):
    """The inngest arm with ``import-article`` served by an app at ``app_url`` (official SDK)."""

    transport_name = "http"

    def __init__(
        self,
        engine: Engine,
        *,
        app_url: str | None = None,
        sdk_app_id: str = DEFAULT_SDK_APP_ID,
        step_timeout: float = 120.0,
        **options: Any,
    ) -> None:
        if not app_url or not app_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"inngest over http needs app_url, the app's http(s) URL; got {app_url!r}"
            )
        super().__init__(engine, **options)
        self.app_url = app_url
        self.transport = HttpTransport(step_timeout=step_timeout)
        remote = self.transport.caller(f"{sdk_app_id}-{IMPORT_FUNCTION}", app_url)

        def measured(request: CallRequest) -> CallResult:
            return self._measured_call(remote, request)

        self.client.functions[IMPORT_FUNCTION] = dataclasses.replace(
            self.client.functions[IMPORT_FUNCTION], remote=measured
        )

    def close(self) -> None:
        self.transport.close()
        super().close()

    def _measured_call(self, remote: Any, request: CallRequest) -> CallResult:
        """One call request; when it runs a step, measured as one attempt like in-process steps."""
        if len(request.steps) >= IMPORT_STEPS or request.target_step is not None:
            result: CallResult = remote(request)
            return result
        trial_job_id = _trial_job_id(request.event)
        outcome: list[CallResult] = []
        try:
            with self.instrumentation.attempt(trial_job_id, request.attempt + 1):
                outcome.append(remote(request))
                error = _attempt_error(outcome[0])
                if error is not None:
                    raise StepFailedInApp(error)
        except StepFailedInApp:
            pass
        return outcome[0]

    def _record_terminal(self, run: FinishedRun) -> None:
        if run.error and "error_kind" not in run.error:
            run = dataclasses.replace(
                run, error={**run.error, "error_kind": error_kind_of_payload(run.error)}
            )
        super()._record_terminal(run)


def _trial_job_id(event: dict[str, Any]) -> UUID | None:
    try:
        return UUID(str((event.get("data") or {}).get("trial_job_id")))
    except ValueError:
        return None


def _attempt_error(result: CallResult) -> dict[str, Any] | None:
    if isinstance(result, FunctionFailed):
        return result.error
    if isinstance(result, StepsReported) and result.ops[0].op in (Opcode.STEP_ERROR, Opcode.STEP_FAILED):
        return result.ops[0].error or {"name": "Error", "message": "step failed"}
    return None
