"""The client-side half of the submit time budget: a watchdog that cancels an overdue backend call.

``statement_timeout`` bounds each SQL statement on the server; the watchdog bounds the backend's
whole ``submit`` call. When a call outlives its budget the watchdog runs the call's ``on_expiry``
(the router cancels the statement in flight on that connection, so a backend blocked on a lock,
a slow server or a statement it exempted from the timeout returns with an error). One daemon
thread serves every call of a router; arming and disarming cost a lock and a heap push.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Watchdog"]

logger = logging.getLogger(__name__)


class Watchdog:
    """Runs a callback when a call's deadline passes before the call disarms it."""

    def __init__(self, name: str = "bakeoff-router-watchdog") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._pending: dict[int, Callable[[], None]] = {}
        self._firing: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, timeout: float, on_expiry: Callable[[], None]) -> int:
        """Schedule ``on_expiry`` in ``timeout`` seconds; returns the token to :meth:`disarm` with."""
        deadline = time.monotonic() + timeout
        with self._cond:
            token = next(self._tokens)
            self._pending[token] = on_expiry
            was_idle = not self._heap
            heapq.heappush(self._heap, (deadline, token))
            self._start_locked()
            # Deadlines are pushed in time order, so the thread only needs waking when it was idle.
            if was_idle or self._heap[0][1] == token:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Cancel the callback; True when it already ran (waits for a callback that is running)."""
        with self._cond:
            if self._pending.pop(token, None) is not None:
                return False
            while token in self._firing:
                self._cond.wait(timeout=5.0)
            return True

    def close(self) -> None:
        """Stop the thread (pending callbacks are dropped)."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def _start_locked(self) -> None:
        if self._closed:
            raise RuntimeError("the watchdog is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _next_due_locked(self) -> tuple[int, Callable[[], None]] | None:
        while self._heap:
            deadline, token = self._heap[0]
            if token not in self._pending:
                heapq.heappop(self._heap)  # disarmed: drop lazily
                continue
            delay = deadline - time.monotonic()
            if delay > 0:
                self._cond.wait(timeout=delay)
                return None
            heapq.heappop(self._heap)
            self._firing.add(token)
            return token, self._pending.pop(token)
        self._cond.wait(timeout=60.0)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                due = self._next_due_locked()
            if due is None:
                continue
            token, on_expiry = due
            try:
                on_expiry()
            except Exception:
                logger.exception("watchdog callback failed")
            finally:
                with self._cond:
                    self._firing.discard(token)
                    self._cond.notify_all()
