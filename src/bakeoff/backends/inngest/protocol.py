"""The executor/function boundary, shaped like Inngest's SDK protocol.

An invocation (:class:`CallRequest`) carries the triggering event, the stored step results (the
memo) and, for a parallel step, the step it targets. The function side answers with a
:class:`CallResult`: the function's output (Inngest's 200), step operations (its 206 with
``[{id, op, displayName, opts, data|error}]``), an error (its 500, retriable or not), or "target not
here". Keeping this boundary plain data is what would let an HTTP transport drive functions written
with Inngest's official SDKs later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "CallRequest",
    "CallResult",
    "FunctionDone",
    "FunctionFailed",
    "MemoEntry",
    "Opcode",
    "StepOp",
    "StepsReported",
    "TargetNotFound",
    "hash_step_id",
]


class Opcode(StrEnum):
    """Step operations, named as in Inngest's SDKs."""

    STEP_RUN = "StepRun"
    STEP_ERROR = "StepError"
    STEP_FAILED = "StepFailed"
    STEP_PLANNED = "StepPlanned"
    SLEEP = "Sleep"
    WAIT_FOR_EVENT = "WaitForEvent"
    INVOKE = "InvokeFunction"

    @property
    def executed(self) -> bool:
        """True for the ops that report a ``step.run`` that ran in this invocation."""
        return self in (Opcode.STEP_RUN, Opcode.STEP_ERROR, Opcode.STEP_FAILED)


def hash_step_id(step_key: str) -> str:
    """Inngest's memo key: SHA-1 hex of the (counter-suffixed) step id."""
    return hashlib.sha1(step_key.encode("utf-8")).hexdigest()  # an id, not security


@dataclass(frozen=True, kw_only=True)
class StepOp:
    """One step operation reported by an invocation."""

    op: Opcode
    key: str
    """The step id with its repeat counter (``fetch``, ``fetch:1``); Inngest hashes this."""
    display_name: str
    opts: dict[str, Any] = field(default_factory=dict)
    data: Any = None
    error: dict[str, Any] | None = None
    retry_after_ms: int | None = None
    hashed: str | None = None
    """The SDK's own hashed id, for a step reported over HTTP (then ``key`` is that id too)."""

    @property
    def hashed_id(self) -> str:
        """Inngest's memo key of this step."""
        return self.hashed if self.hashed is not None else hash_step_id(self.key)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape of Inngest's SDK response."""
        payload: dict[str, Any] = {
            "id": self.hashed_id,
            "op": str(self.op),
            "displayName": self.display_name,
            "opts": self.opts,
        }
        if self.error is not None:
            payload["error"] = self.error
        elif self.op is Opcode.STEP_RUN:
            payload["data"] = self.data
        return payload


@dataclass(frozen=True, kw_only=True)
class MemoEntry:
    """A stored step result: ``data``, or ``error`` for a step that failed for good."""

    data: Any = None
    error: dict[str, Any] | None = None
    op: str = "StepRun"
    """The op that produced it (``StepRun``, ``Sleep``, ``WaitForEvent``, ``InvokeFunction``): an
    HTTP transport shapes the memo the way Inngest's SDKs expect for each."""


@dataclass(frozen=True, kw_only=True)
class CallRequest:
    """What the executor hands a function for one invocation."""

    event: dict[str, Any]
    events: list[dict[str, Any]]
    steps: dict[str, MemoEntry]
    run_id: str
    attempt: int
    max_attempts: int
    target_step: str | None = None
    disable_immediate_execution: bool = False
    """Set when the step limit is reached: the next ``step.run`` is reported, not executed."""


@dataclass(frozen=True, kw_only=True)
class FunctionDone:
    output: Any


@dataclass(frozen=True, kw_only=True)
class StepsReported:
    ops: list[StepOp]


@dataclass(frozen=True, kw_only=True)
class FunctionFailed:
    error: dict[str, Any]
    retriable: bool
    retry_after_ms: int | None = None
    step_key: str | None = None
    """The step whose callback raised, when a NonRetriableError came out of a step."""


@dataclass(frozen=True, kw_only=True)
class TargetNotFound:
    """A targeted invocation never reached its target (already memoized, or the code changed)."""


CallResult = FunctionDone | StepsReported | FunctionFailed | TargetNotFound
