"""The line protocol between a legacy worker process (the child) and the processor that spawned it.

The current system's workers report over stdout/stderr, and the parent parses what they print. That
is reproduced here, fragility included. One message per line, UTF-8::

    LEGACY:STARTED {"job_id": "...", "pid": 4242, "attempt": 1}        stdout, first line
    LEGACY:PROGRESS {"message": "fetching"}                            stdout, any number
    LEGACY:RESULT {"document_id": "...", "title": "..."}               stdout, on success
    LEGACY:ERROR {"error_kind": "http_404", "message": "...", "retryable": false}   stderr, on failure

Anything else on stderr is free text (logs, tracebacks): its last lines are kept for the error
message. What the parent does with anything else on **stdout** is the ``stdout_protocol`` switch:

* ``strict`` (default, today's behaviour): the first line that is not a well-formed message fails the
  job with ``error_kind='protocol_error'`` -- even when a RESULT follows, because the parent cannot
  tell what else it missed. A library that prints to stdout breaks jobs this way.
* ``lenient``: malformed lines are counted and ignored; the messages that do parse decide.

The exit code decides nothing on its own (see :class:`ChildReport.verdict`): the current system's
workers exit 1 after completing (``crash_after_complete``), so a RESULT wins over the exit code.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from bakeoff.backends.legacy.errors import ErrorKind, ProtocolError

__all__ = [
    "MAX_LINE_BYTES",
    "PREFIX",
    "ChildReport",
    "Message",
    "MessageKind",
    "StdoutProtocol",
    "Verdict",
    "format_message",
    "parse_line",
]

PREFIX = "LEGACY:"
MAX_LINE_BYTES = 64 * 1024
STDERR_TAIL_LINES = 20
QUOTE_CHARS = 120

StdoutProtocol = Literal["strict", "lenient"]


class MessageKind(StrEnum):
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    RESULT = "RESULT"
    ERROR = "ERROR"


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One parsed protocol line."""

    kind: MessageKind
    body: dict[str, Any]


def format_message(kind: MessageKind, body: dict[str, Any]) -> str:
    """The protocol line for ``kind`` and ``body`` (no trailing newline)."""
    return f"{PREFIX}{kind.value} {json.dumps(body, default=str, separators=(',', ':'))}"


def _quote(line: str) -> str:
    return repr(line[:QUOTE_CHARS] + ("..." if len(line) > QUOTE_CHARS else ""))


def parse_line(line: str) -> Message:
    """Parse one line; raise :class:`ProtocolError` naming what is wrong with it."""
    stripped = line.rstrip("\r\n")
    if not stripped.startswith(PREFIX):
        raise ProtocolError(f"not a protocol line: {_quote(stripped)}")
    kind_text, _, body_text = stripped[len(PREFIX) :].partition(" ")
    try:
        kind = MessageKind(kind_text)
    except ValueError:
        raise ProtocolError(f"unknown message kind {kind_text[:40]!r} in {_quote(stripped)}") from None
    try:
        body = json.loads(body_text) if body_text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON in {kind.value} line ({exc.msg}): {_quote(stripped)}") from exc
    if not isinstance(body, dict):
        raise ProtocolError(f"{kind.value} body must be a JSON object: {_quote(stripped)}")
    return Message(kind=kind, body=body)


def decode_line(raw: bytes) -> str:
    """Bytes read from a pipe as text; undecodable bytes become U+FFFD instead of crashing the parent."""
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """What the parent concludes from everything a child printed and its exit code."""

    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None
    retryable: bool = True

    @property
    def document_id(self) -> str | None:
        value = self.result.get("document_id")
        return str(value) if value else None


@dataclass
class ChildReport:
    """Accumulates one child's output, line by line, and turns it into a :class:`Verdict`."""

    mode: StdoutProtocol = "strict"
    started: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    violation: str | None = None
    ignored_lines: int = 0
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))

    def feed_stdout(self, line: str) -> Message | None:
        """Take one stdout line; returns the message when it parsed."""
        if not line.strip():
            return None  # blank lines are harmless in both modes
        try:
            message = parse_line(line) if len(line) <= MAX_LINE_BYTES else self._too_long(line)
        except ProtocolError as exc:
            self._reject(str(exc))
            return None
        if message.kind is MessageKind.ERROR:
            self._reject(f"ERROR belongs on stderr, not stdout: {_quote(line)}")
            return None
        self._take(message)
        return message

    def feed_stderr(self, line: str) -> None:
        """Take one stderr line: an ERROR message, or free text kept for the error message."""
        if line.startswith(f"{PREFIX}{MessageKind.ERROR.value}"):
            try:
                self.error = parse_line(line).body
                return
            except ProtocolError:
                pass  # an unreadable ERROR line is still worth showing as text
        if line.strip():
            self.stderr_tail.append(line[: QUOTE_CHARS * 4])

    def verdict(self, exit_code: int | None, *, timed_out: bool = False) -> Verdict:
        """Decide the job's outcome. Order: protocol violation, timeout, ERROR, RESULT, crash."""
        if self.violation is not None and self.mode == "strict":
            return _failed(ErrorKind.PROTOCOL_ERROR, f"child broke the stdout protocol: {self.violation}")
        if timed_out:
            return _failed(ErrorKind.TIMEOUT, f"child killed after its time limit{self._stderr_hint()}")
        if self.error is not None:
            kind = str(self.error.get("error_kind") or ErrorKind.WORKER_CRASHED)
            message = str(self.error.get("message") or "the child reported an error without a message")
            return _failed(kind, message, retryable=self.error.get("retryable") is not False)
        if self.result is not None:
            return Verdict(ok=True, result=self.result)
        return _failed(
            ErrorKind.WORKER_CRASHED,
            f"child exited with code {exit_code} without reporting a result{self._stderr_hint()}",
        )

    def _take(self, message: Message) -> None:
        if message.kind is MessageKind.STARTED:
            self.started = message.body
        elif message.kind is MessageKind.RESULT:
            self.result = message.body

    def _reject(self, reason: str) -> None:
        self.ignored_lines += 1
        if self.violation is None:
            self.violation = reason

    @staticmethod
    def _too_long(line: str) -> Message:
        raise ProtocolError(f"line of {len(line)} characters exceeds {MAX_LINE_BYTES}: {_quote(line)}")

    def _stderr_hint(self) -> str:
        return f"; stderr: {' | '.join(self.stderr_tail)}" if self.stderr_tail else ""


def _failed(kind: str, error: str, *, retryable: bool = True) -> Verdict:
    return Verdict(ok=False, error_kind=str(kind), error=error, retryable=retryable)
