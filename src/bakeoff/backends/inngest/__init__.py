"""The inngest arm: an Inngest-style durable, event-driven step engine on PostgreSQL.

Events trigger functions; a function is a chain of memoized steps, replayed from the top on every
invocation. Public API (close to Inngest's Python SDK)::

    client = Inngest(app_id="bakeoff", database_url=url)

    @client.create_function(fn_id="import-article", trigger=TriggerEvent(event="article/import.requested"))
    def import_article(ctx: Context) -> dict:
        page = ctx.step.run("fetch", fetch_page, ctx.event.data["url"])
        ...

    client.send(Event(name="article/import.requested", data={"url": url}))
    worker = client.start_worker(concurrency=4)
"""

from __future__ import annotations

from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.errors import (
    InngestError,
    InvalidEvent,
    InvalidFunction,
    NonRetriableError,
    RetryAfterError,
    RunTimeout,
    StepError,
)
from bakeoff.backends.inngest.function import Function
from bakeoff.backends.inngest.models import (
    Cancel,
    Concurrency,
    Debounce,
    Event,
    Limits,
    RateLimit,
    Run,
    RunStatus,
    Singleton,
    Throttle,
    TriggerCron,
    TriggerEvent,
)
from bakeoff.backends.inngest.sdk import Context
from bakeoff.backends.inngest.worker import Worker

__all__ = [
    "Cancel",
    "Concurrency",
    "Context",
    "Debounce",
    "Event",
    "Function",
    "Inngest",
    "InngestError",
    "InvalidEvent",
    "InvalidFunction",
    "Limits",
    "NonRetriableError",
    "RateLimit",
    "RetryAfterError",
    "Run",
    "RunStatus",
    "RunTimeout",
    "Singleton",
    "StepError",
    "Throttle",
    "TriggerCron",
    "TriggerEvent",
    "Worker",
]
