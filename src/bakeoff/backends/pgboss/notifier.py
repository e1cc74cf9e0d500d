"""The LISTEN side of LISTEN/NOTIFY: one dedicated connection that wakes workers, and reconnects.

A send on a notify queue commits ``pg_notify(channel, queue_name)`` with the job (pg-boss's
``insertJobs``); this thread receives it and calls back with the queue name. A lost connection is
retried with capped backoff; after a reconnect every worker fetches once (pg-boss's
``forceFetchLnWorkers``), since notifications sent during the gap are gone, and the polling
backstop covers the gap itself.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bakeoff.backends.pgboss.background import BackgroundThread
from bakeoff.backends.pgboss.store import PgBossQueries
from bakeoff.db.urls import mask_url

__all__ = ["Notifier"]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
WAIT_SLICE_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 2.0


class Notifier:
    """A background LISTEN loop on this schema's channel."""

    def __init__(
        self,
        url: str,
        queries: PgBossQueries,
        on_notify: Callable[[str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self.url = url
        self.queries = queries
        self.on_notify = on_notify
        self.on_reconnect = on_reconnect
        self._background = BackgroundThread("pgboss-listener", self._run, join_seconds=5)
        self._stop = self._background.stopping
        self._conn: psycopg.Connection[Any] | None = None
        self.connected = False
        self.reconnects = 0
        self.backend_pid: int | None = None

    def start(self) -> None:
        if self._background.started:
            return
        self._stop.clear()
        self._connect_once()  # the first LISTEN is up before start() returns, so no early send is missed
        self._background.start()

    def stop(self) -> None:
        self._background.stop()
        self._close()

    def _connect_once(self) -> bool:
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name="pgboss-listen"
            )
            conn.execute(self.queries.sql("listen"))
        except psycopg.Error as exc:
            logger.warning("LISTEN connection to %s failed: %s", mask_url(self.url), exc)
            self.connected = False
            return False
        self._conn = conn
        self.backend_pid = conn.info.backend_pid
        self.connected = True
        return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            if self._conn is None:
                if not self._connect_once():
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    continue
                backoff = 0.1
                self.reconnects += 1
                logger.info("LISTEN connection re-established")
                self._safe(self.on_reconnect)
            try:
                self._listen_until_error()
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    logger.warning("LISTEN connection lost: %s; reconnecting", exc)
                self._close()

    def _listen_until_error(self) -> None:
        conn = self._conn
        assert conn is not None
        last_beat = time.monotonic()
        while not self._stop.is_set():
            for note in conn.notifies(timeout=WAIT_SLICE_SECONDS, stop_after=1):
                self._safe(self.on_notify, note.payload)
            if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                conn.execute(self.queries.sql("listener_heartbeat"))  # a dead socket shows up here
                last_beat = time.monotonic()

    @staticmethod
    def _safe(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("LISTEN callback failed")
