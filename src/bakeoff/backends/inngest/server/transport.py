"""The HTTP transport of the executor: one invocation is one ``POST`` to the app's step URL.

:class:`HttpTransport` turns a :class:`~bakeoff.backends.inngest.protocol.CallRequest` into the
body and headers Inngest's SDKs require (the Python SDK 0.5.x refuses a request without a
top-level ``use_api``, ``ctx.stack`` and ``ctx.disable_immediate_execution``), and the answer into
a :class:`~bakeoff.backends.inngest.protocol.CallResult`:

- 200: the function's output;
- 206: step ops, translated to the engine's opts (a sleep's end or duration and a wait's event
  name travel in the op's ``name``); ``RunComplete`` (TS v4) is the output;
- anything else: a function error, retriable unless ``X-Inngest-No-Retry: true`` (the Python SDK
  answers 500 plus that header, the TypeScript SDK 400; the header decides first), with
  ``Retry-After`` honoured;
- no answer, HTML, garbage, an unknown op: a retriable error whose message says what came back,
  or a non-retriable one naming a feature this server refuses.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bakeoff.backends.inngest.protocol import (
    CallRequest,
    CallResult,
    FunctionDone,
    FunctionFailed,
    MemoEntry,
    Opcode,
    StepOp,
    StepsReported,
    TargetNotFound,
)
from bakeoff.backends.inngest.server.signing import SigningKey, canonical_json
from bakeoff.backends.inngest.server.wire import (
    WireError,
    error_payload,
    parse_instant,
    parse_retry_after,
    parse_time_string,
)

__all__ = ["HttpTransport", "memo_payload", "request_body"]

logger = logging.getLogger(__name__)

SERVER_SDK = "bakeoff-inngest-serve:v0.1.0"
MAX_PARALLEL_RUNS = 100_000
REFUSED_OPS = {
    "AIGateway": "the AI gateway (step.ai.infer)",
    "Gateway": "the AI gateway (step.fetch / gateway requests)",
    "StepAIGateway": "the AI gateway (step.ai.infer)",
}


def memo_payload(entry: MemoEntry) -> Any:
    """A stored step result in the shape the SDKs read: sleep null, wait the event or null,
    ``step.run`` and invoke ``{data}`` or ``{error}``."""
    if entry.error is not None:
        return {"error": entry.error}
    if entry.op in (str(Opcode.SLEEP), str(Opcode.WAIT_FOR_EVENT)):
        return entry.data
    return {"data": entry.data}


def request_body(fn_id: str, request: CallRequest, *, use_api: bool = False) -> dict[str, Any]:
    """The call request body both SDKs accept (the spec's, plus what Python 0.5.x requires).

    With ``use_api`` the memo and the events stay out of the body: the SDK fetches them from
    ``/v0/runs/{run_id}/actions`` and ``/batch`` (Inngest does this for bodies too big to send).
    """
    steps = {key: memo_payload(entry) for key, entry in request.steps.items()}
    stack = list(steps)
    return {
        "event": request.event,
        "events": [] if use_api else request.events,
        "steps": {} if use_api else steps,
        # No ctx.fn_id (Inngest's internal function UUID): without it the TS v4 SDK does not
        # checkpoint (refused here) and reports steps in 206 answers, as every SDK does.
        "ctx": {
            "run_id": request.run_id,
            "step_id": request.target_step or "step",
            "attempt": request.attempt,
            "max_attempts": request.max_attempts,
            "disable_immediate_execution": request.disable_immediate_execution,
            "use_api": use_api,
            "stack": {"stack": stack, "current": len(stack)},
        },
        "use_api": use_api,
        "version": 1,
    }


def _failed(name: str, message: str, *, retriable: bool = True) -> FunctionFailed:
    return FunctionFailed(error={"name": name, "message": message}, retriable=retriable)


class HttpTransport:
    """Calls functions served by apps; one pooled HTTP client for every worker thread."""

    def __init__(
        self,
        *,
        step_timeout: float = 120.0,
        signing_key: SigningKey | None = None,
        inline_limit: int = 4 * 1024 * 1024,
    ) -> None:
        self.step_timeout = step_timeout
        self.inline_limit = inline_limit
        self.signing_key = signing_key
        self.server_kind = "cloud" if signing_key is not None else "dev"
        self._parallel_runs: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=httpx.Timeout(step_timeout, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def caller(self, fn_id: str, url: str) -> Callable[[CallRequest], CallResult]:
        """The ``remote`` of one function: invocations of ``fn_id`` at ``url``."""
        return lambda request: self.call(fn_id, url, request)

    # -- one invocation ---------------------------------------------------------------------------

    def call(self, fn_id: str, url: str, request: CallRequest) -> CallResult:
        """POST one invocation; never raises for what the app did (that becomes a run error)."""
        if not request.disable_immediate_execution and self._ran_parallel(request.run_id):
            request = dataclasses.replace(request, disable_immediate_execution=True)
        result = self._call(fn_id, url, request)
        if isinstance(result, StepsReported) and len(result.ops) > 1:
            self._mark_parallel(request.run_id)
        return result

    def _ran_parallel(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._parallel_runs

    def _mark_parallel(self, run_id: str) -> None:
        """As Inngest does once a run plans a parallel group: its later steps are planned, not run
        at once (``disable_immediate_execution``). Kept in memory, the newest runs only: after a
        restart such a run's next step may run at once, with the same results."""
        with self._lock:
            self._parallel_runs[run_id] = None
            self._parallel_runs.move_to_end(run_id)
            while len(self._parallel_runs) > MAX_PARALLEL_RUNS:
                self._parallel_runs.popitem(last=False)

    def _call(self, fn_id: str, url: str, request: CallRequest) -> CallResult:
        body = self._encode(request_body(fn_id, request))
        if len(body) > self.inline_limit:
            body = self._encode(request_body(fn_id, request, use_api=True))
        # Merge, not replace: the step URL may carry query parameters of its own.
        target = httpx.URL(url).copy_merge_params({"fnId": fn_id, "stepId": request.target_step or "step"})
        try:
            response = self._http.post(target, content=body, headers=self._headers(body))
        except httpx.TimeoutException:
            return _failed("StepTimeout", f"the app at {url} did not answer within {self.step_timeout:g} s")
        except httpx.HTTPError as exc:
            return _failed("AppUnreachable", f"could not reach the app at {url}: {exc}")
        if self.signing_key is not None:
            problem = self.signing_key.problem(response.content, response.headers.get("x-inngest-signature"))
            if problem is not None:
                return _failed(
                    "InvalidSignature", f"the app at {url} answered {response.status_code} with {problem}"
                )
        return self._result(url, request, response.status_code, response.headers, response.content)

    def _encode(self, payload: dict[str, Any]) -> bytes:
        # Signed bodies go out canonical (RFC 8785): the SDKs canonicalize before they verify.
        if self.signing_key is not None:
            return canonical_json(payload)
        return json.dumps(payload, separators=(",", ":")).encode()

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "x-inngest-server-kind": self.server_kind,
            "x-inngest-sdk": SERVER_SDK,
            "x-inngest-req-version": "1",
            "user-agent": SERVER_SDK,
        }
        if self.signing_key is not None:
            headers["x-inngest-signature"] = self.signing_key.sign(body)
        return headers

    def _result(
        self, url: str, request: CallRequest, status: int, headers: httpx.Headers, content: bytes
    ) -> CallResult:
        try:
            payload = json.loads(content) if content.strip() else None
        except ValueError:
            kind = headers.get("content-type", "no content type")
            return _failed(
                "InvalidResponse", f"the app at {url} answered {status} with a body that is not JSON ({kind})"
            )
        if status == 201 and isinstance(payload, dict) and {"status", "body"} <= payload.keys():
            # A streamed answer (the Python SDK's keep-alive mode): the real response is inside.
            inner = payload["body"]
            merged = httpx.Headers({**dict(headers), **(payload.get("headers") or {})})
            raw = inner.encode() if isinstance(inner, str) else json.dumps(inner).encode()
            return self._result(url, request, int(payload["status"]), merged, raw)
        no_retry = headers.get("x-inngest-no-retry")
        retry_after = parse_retry_after(headers.get("retry-after"))
        if status == 200:
            return FunctionDone(output=payload)
        if status == 206:
            return self._ops(url, request, payload, no_retry == "true", retry_after)
        if "x-inngest-sdk" not in headers and not isinstance(payload, dict):
            return _failed(
                "InvalidResponse", f"the app at {url} answered {status}, not an Inngest SDK response"
            )
        retriable = no_retry != "true" if no_retry in ("true", "false") else not 400 <= status < 500
        error = error_payload(payload)
        if retriable and status >= 500 and not isinstance(payload, dict):
            error["message"] = f"the app at {url} answered {status}: {error['message'][:200]}"
        return FunctionFailed(error=error, retriable=retriable, retry_after_ms=retry_after)

    # -- 206: step ops ----------------------------------------------------------------------------

    def _ops(
        self, url: str, request: CallRequest, payload: Any, no_retry: bool, retry_after: int | None
    ) -> CallResult:
        raw_ops = payload if isinstance(payload, list) else [payload]
        if not raw_ops or not all(isinstance(op, dict) for op in raw_ops):
            return _failed("InvalidResponse", f"the app at {url} answered 206 without a list of step ops")
        for raw in raw_ops:
            if raw.get("op") == "RunComplete":
                return FunctionDone(output=raw.get("data"))
            if raw.get("op") == "StepNotFound":
                return TargetNotFound()
        ops: list[StepOp] = []
        for raw in raw_ops:
            try:
                ops.append(self._op(raw, request, no_retry, retry_after))
            except _Refused as exc:
                return _failed("UnsupportedFeature", str(exc), retriable=False)
            except (WireError, KeyError, TypeError, ValueError) as exc:
                return _failed("InvalidResponse", f"the app at {url} reported a malformed step op: {exc}")
        if len(ops) > 1 and any(op.op.executed for op in ops):
            return _failed(
                "InvalidResponse", f"the app at {url} reported an executed step among {len(ops)} ops"
            )
        return StepsReported(ops=ops)

    def _op(
        self, raw: dict[str, Any], request: CallRequest, no_retry: bool, retry_after: int | None
    ) -> StepOp:
        name = str(raw.get("op"))
        if name in REFUSED_OPS:
            raise _Refused(f"{REFUSED_OPS[name]} is not supported by bakeoff inngest serve")
        try:
            opcode = Opcode(name)
        except ValueError:
            raise _Refused(f"step op {name!r} is not supported by bakeoff inngest serve") from None
        hashed = raw["id"]
        if not isinstance(hashed, str) or not hashed:
            raise WireError("an op needs a string 'id'")
        display = raw.get("displayName") or raw.get("name") or hashed
        common: dict[str, Any] = {"key": hashed, "hashed": hashed, "display_name": str(display)}
        if opcode is Opcode.STEP_RUN:
            return StepOp(op=opcode, data=raw.get("data"), **common)
        if opcode in (Opcode.STEP_ERROR, Opcode.STEP_FAILED):
            last = request.attempt + 1 >= request.max_attempts
            final = opcode is Opcode.STEP_FAILED or no_retry or last
            return StepOp(
                op=Opcode.STEP_FAILED if final else Opcode.STEP_ERROR,
                error=error_payload(raw.get("error")),
                retry_after_ms=retry_after,
                **common,
            )
        if opcode is Opcode.STEP_PLANNED:
            return StepOp(op=opcode, **common)
        return StepOp(op=opcode, opts=_wait_opts(opcode, raw), **common)


class _Refused(Exception):
    """An op names a feature this server refuses (the run fails without retries)."""


def _wait_opts(opcode: Opcode, raw: dict[str, Any]) -> dict[str, Any]:
    """Sleep, WaitForEvent and InvokeFunction opts in the engine's terms (ms, plain keys)."""
    opts = raw.get("opts") or {}
    if not isinstance(opts, dict):
        raise WireError("'opts' must be an object")
    if opcode is Opcode.SLEEP:
        return _sleep_opts(raw.get("name"), opts)
    if opcode is Opcode.WAIT_FOR_EVENT:
        event = opts.get("event") or raw.get("name")
        if not isinstance(event, str) or not event:
            raise WireError("a WaitForEvent op needs the event name (in 'name' or opts.event)")
        return {"event": event, "if": opts.get("if"), "timeout_ms": _timeout_ms(opts.get("timeout"))}
    function_id = opts.get("function_id")
    if not isinstance(function_id, str) or not function_id:
        raise WireError("an InvokeFunction op needs opts.function_id")
    payload = opts.get("payload") or {}
    data = payload.get("data") if isinstance(payload, dict) else None
    return {"function_id": function_id, "data": data or {}, "timeout_ms": _timeout_ms(opts.get("timeout"))}


def _timeout_ms(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        when = parse_instant(value)
        if when is not None:
            return max(0.0, (when - datetime.now(UTC)) / timedelta(milliseconds=1))
    return parse_time_string(value, field_name="timeout") / timedelta(milliseconds=1)


def _sleep_opts(name: Any, opts: dict[str, Any]) -> dict[str, Any]:
    """Both SDKs put the sleep in ``name``: a time string (TS ``step.sleep``) or an ISO instant."""
    value = opts.get("duration") or name
    if not isinstance(value, str) or not value:
        raise WireError("a Sleep op needs its duration or end time in 'name'")
    when = parse_instant(value)
    if when is not None:
        return {"until_ms": when.timestamp() * 1000, "until": value}
    return {"duration_ms": parse_time_string(value, field_name="sleep") / timedelta(milliseconds=1)}
