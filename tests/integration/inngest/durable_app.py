"""A worker process for the kill test: step ``one`` finishes, step ``two`` hangs until the process is killed.

Run as ``python durable_app.py DATABASE_URL MARKER_DIR APP_ID``; it writes ``one`` and ``two`` marker files
so the test knows where it is.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bakeoff.backends.inngest import Context, Inngest, TriggerEvent


def main(database_url: str, marker_dir: Path, app_id: str) -> None:
    client = Inngest(app_id=app_id, database_url=database_url, lease=timedelta(seconds=1), poll_interval=0.1)

    @client.create_function(fn_id="durable", trigger=TriggerEvent(event="t/durable"))
    def durable(ctx: Context) -> Any:
        def one() -> int:
            with (marker_dir / "one").open("a") as marker:
                marker.write("ran\n")
            return 1

        def two() -> str:
            (marker_dir / "two").write_text("started")
            time.sleep(120)  # killed long before this ends
            return "never"

        ctx.step.run("one", one)
        return ctx.step.run("two", two)

    worker = client.start_worker(concurrency=1)
    time.sleep(120)
    worker.stop()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
