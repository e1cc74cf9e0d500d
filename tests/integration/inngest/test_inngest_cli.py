"""``bakeoff inngest runs`` and ``bakeoff inngest run RUN_ID`` against a real run history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from bakeoff.backends.inngest import Context, Inngest, Run, RunStatus, TriggerEvent, Worker
from bakeoff.cli import cli

RunEvent = Callable[..., Run]


def test_runs_and_run_timeline_show_steps_attempts_and_errors(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """The list filters by function and status; the timeline shows each attempt and the final error."""
    tries: list[int] = []

    @client.create_function(fn_id="cli-fn", trigger=TriggerEvent(event="t/cli"), retries=1)
    def fn(ctx: Context) -> Any:
        ctx.step.run("fetch", lambda: "page")
        ctx.step.sleep("pause", 50)

        def save() -> None:
            tries.append(1)
            raise RuntimeError("disk full")

        return ctx.step.run("save", save)

    start_worker()
    run = run_event("t/cli")
    assert run.status is RunStatus.FAILED
    runner = CliRunner(env={"COLUMNS": "220"})
    base = ["--database-url", client.database_url, "inngest"]
    listed = runner.invoke(cli, [*base, "runs", "--fn", "cli-fn", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert run.run_id in listed.output and "disk full" in listed.output
    assert (
        runner.invoke(cli, [*base, "runs", "--status", "completed", "--fn", "cli-fn"]).output.count("cli-fn")
        == 0
    )
    shown = runner.invoke(cli, [*base, "run", run.run_id])
    assert shown.exit_code == 0, shown.output
    for expected in ("fetch", "pause", "Sleep", "save", "RuntimeError: disk full", "queue delay", "t/cli"):
        assert expected in shown.output, expected
    assert shown.output.count("save") >= 2, "both attempts of save are listed"
    missing = runner.invoke(cli, [*base, "run", "00000000-0000-0000-0000-000000000000"])
    assert missing.exit_code != 0
