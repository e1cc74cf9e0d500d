"""``InngestServer``: the dev-server side of Inngest's SDK protocol on the step engine's tables.

One engine app (:data:`SERVER_APP_ID`) holds the functions of every synced SDK app, keyed by
their composite ids (``app-fn``), so ``invoke`` across apps, ``on_failure`` (a function of its
own, as the SDKs register it) and ``cancelOn`` work as the engine already does them. Runs,
steps, attempts and events land in the same ``inngest`` schema as the in-process arm, so
``bakeoff inngest runs`` shows them too. Synced apps live in memory, as in ``inngest dev``: a
restarted server forgets them until the apps sync again (``-u`` does it at start).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bakeoff.backends.inngest.client import DEFAULT_LEASE, Inngest
from bakeoff.backends.inngest.cron import next_fire
from bakeoff.backends.inngest.errors import InvalidEvent
from bakeoff.backends.inngest.executor import Backoff
from bakeoff.backends.inngest.function import Function
from bakeoff.backends.inngest.models import Event
from bakeoff.backends.inngest.protocol import MemoEntry
from bakeoff.backends.inngest.server.gql import find_run
from bakeoff.backends.inngest.server.registry import AppRegistry, RegisterError, parse_app
from bakeoff.backends.inngest.server.signing import SigningKey
from bakeoff.backends.inngest.server.transport import HttpTransport, memo_payload
from bakeoff.backends.inngest.server.wire import WireError, parse_event
from bakeoff.backends.inngest.worker import Worker

__all__ = ["SERVER_APP_ID", "InngestServer", "Reply", "SyncFailed"]

logger = logging.getLogger(__name__)

SERVER_APP_ID = "inngest-serve"
"""The engine app that owns every function synced over HTTP (their ids carry the SDK app's id)."""
MAX_EVENTS_PER_REQUEST = 5000


class SyncFailed(RuntimeError):
    """``PUT`` to an app did not sync it; the message says what the app answered."""


@dataclass(frozen=True)
class Reply:
    """A JSON answer: status code and body."""

    status: int
    body: Any


class InngestServer:
    """Syncs apps, takes events and drives the synced functions over HTTP with engine workers."""

    def __init__(
        self,
        database_url: str,
        *,
        retry_interval: int | None = None,
        backoff: Backoff | None = None,
        concurrency: int = 8,
        step_timeout: float = 120.0,
        inline_limit: int = 4 * 1024 * 1024,
        poll_interval: float = 0.5,
        lease: timedelta = DEFAULT_LEASE,
        signing_key: str | None = None,
        event_key: str | None = None,
    ) -> None:
        self.client = Inngest(
            app_id=SERVER_APP_ID,
            database_url=database_url,
            retry_interval=retry_interval,
            backoff=backoff,
            poll_interval=poll_interval,
            lease=lease,
        )
        self.concurrency = concurrency
        self.signing_key = SigningKey(signing_key) if signing_key else None
        self.event_key = event_key or None
        self.mode = "cloud" if self.signing_key is not None else "dev"
        self.transport = HttpTransport(
            step_timeout=step_timeout, inline_limit=inline_limit, signing_key=self.signing_key
        )
        self.registry = AppRegistry(self._publish)
        self._registrations = 0
        self._worker: Worker | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> InngestServer:
        """Start the engine workers that drive synced functions."""
        if self._worker is None:
            self._worker = self.client.start_worker(concurrency=self.concurrency)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the workers (in-flight calls finish), then the HTTP client and the pool."""
        if self._worker is not None:
            self._worker.stop(timeout=timeout)
            self._worker = None
        self.transport.close()
        self.client.close()

    # -- sync -------------------------------------------------------------------------------------

    def _publish(self, functions: dict[str, Function]) -> None:
        self.client.functions = functions  # one assignment: workers see the old or the new set
        now = datetime.now(UTC)
        crons = [(fn.fn_id, cron) for fn in functions.values() for cron in fn.crons()]
        if not crons:
            return
        with self.client.connection() as conn:
            for fn_id, cron in crons:
                self.client.sql.run(
                    conn,
                    "register_cron",
                    app_id=SERVER_APP_ID,
                    fn_id=fn_id,
                    cron=cron,
                    next_at=next_fire(cron, now),
                )

    def register(self, payload: Any) -> Reply:
        """``POST /fn/register``: add or replace an app's functions."""
        try:
            app = parse_app(payload, self.transport.caller)
            modified = self.registry.sync(app)
        except RegisterError as exc:
            logger.warning("sync refused: %s", exc)
            return Reply(400, {"error": str(exc)})
        self._registrations += 1
        logger.info("synced app %s (%d functions) at %s", app.app_id, len(app.functions), app.url)
        return Reply(200, {"ok": True, "modified": modified})

    def authorizes(self, authorization: str | None) -> bool:
        """Whether an SDK-to-server call may proceed: always in dev mode, else with the key's bearer."""
        return self.signing_key is None or self.signing_key.authorizes(authorization)

    def accepts_event_key(self, key: str) -> bool:
        """Whether ``POST /e/{key}`` may send: any key in dev mode, else only the configured one."""
        if self.signing_key is None and self.event_key is None:
            return True
        return self.event_key is not None and hmac.compare_digest(key, self.event_key)

    def sync_app(self, url: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Sync the app served at ``url`` as ``inngest dev -u`` does: ``PUT`` it, it registers here."""
        before = self._registrations
        headers = {"x-inngest-server-kind": self.mode}
        if self.signing_key is not None:
            headers["x-inngest-signature"] = self.signing_key.sign(b"")
        try:
            response = httpx.put(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise SyncFailed(f"could not reach the app at {url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        message = (body.get("message") or body.get("error")) if isinstance(body, dict) else body
        if response.status_code != 200:
            raise SyncFailed(f"the app at {url} answered {response.status_code}: {message}")
        if self._registrations == before:
            # Some SDKs answer 200 even when their registration was refused; the message says why.
            raise SyncFailed(f"the app at {url} answered 200 but did not register: {message}")
        return body if isinstance(body, dict) else {"body": body}

    # -- events -----------------------------------------------------------------------------------

    def send_events(self, payload: Any) -> Reply:
        """``POST /e/{key}``: one event or a list; ``{ids, status}``, or 400 naming the bad field."""
        raw = payload if isinstance(payload, list) else [payload]
        if not raw:
            return Reply(400, {"error": "the body holds no event", "status": 400})
        if len(raw) > MAX_EVENTS_PER_REQUEST:
            return Reply(
                400, {"error": f"{len(raw)} events in one request; the limit is 5000", "status": 400}
            )
        try:
            events = [parse_event(item, i) for i, item in enumerate(raw)]
            ids = self.client.send(events)
        except (WireError, InvalidEvent) as exc:
            return Reply(400, {"error": str(exc), "status": 400})
        return Reply(200, {"ids": ids, "status": 200})

    def send(self, events: list[Event]) -> list[str]:
        """Send events from Python (tests, benchmarks): the same path as ``POST /e``."""
        return self.client.send(events)

    # -- the run API the SDKs call when use_api is set -----------------------------------------------

    def run_batch(self, run_id: str) -> Reply:
        """``GET /v0/runs/{run_id}/batch``: the run's events (one: batching is refused at sync)."""
        run = find_run(self.client, run_id)
        if run is None:
            return Reply(404, {"error": f"no run {run_id}"})
        return Reply(200, [run.event.to_dict()])

    def run_actions(self, run_id: str) -> Reply:
        """``GET /v0/runs/{run_id}/actions``: memoized steps by hashed id, as a call request's ``steps``."""
        run = find_run(self.client, run_id)
        if run is None:
            return Reply(404, {"error": f"no run {run_id}"})
        steps = {
            s.step_key: memo_payload(MemoEntry(data=s.output, error=s.error, op=s.op))
            for s in run.steps
            if s.status != "waiting"
        }
        return Reply(200, steps)

    # -- inspection -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """What ``GET /dev`` answers: the server and the synced apps with their functions."""
        return {
            "version": "bakeoff-inngest-serve",
            "mode": self.mode,
            "apps": [
                {
                    "id": app.app_id,
                    "url": app.url,
                    "sdk": app.sdk,
                    "framework": app.framework,
                    "functions": sorted(app.functions),
                }
                for app in self.registry.apps()
            ],
            "functions": [
                {"id": fn.fn_id, "name": fn.options.name or fn.fn_id} for fn in self.client.functions.values()
            ],
        }
