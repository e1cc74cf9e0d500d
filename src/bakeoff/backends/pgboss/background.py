"""The one thread each background part of a pg-boss instance runs: listener, supervisor, timekeeper.

A :class:`BackgroundThread` is a named daemon thread that can be started again after ``stop()``
(pg-boss instances restart); its ``stopping`` event is what the part's loop waits on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["BackgroundThread"]


class BackgroundThread:
    """Runs ``run`` in a daemon thread named ``name`` until :meth:`stop` (then joins it, bounded)."""

    def __init__(self, name: str, run: Callable[[], None], *, join_seconds: float) -> None:
        self.name = name
        self.run = run
        self.join_seconds = join_seconds
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self.stopping.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.join_seconds)
