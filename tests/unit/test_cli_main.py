"""``bakeoff.cli.main`` turns every outcome into an exit code and one line on stderr."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from bakeoff.cli import cli, main
from bakeoff.contract import ConfigurationError


@pytest.fixture
def extra_commands() -> Iterator[None]:
    @click.command("exit-three")
    @click.pass_context
    def exit_three(ctx: click.Context) -> None:
        ctx.exit(3)

    @click.command("broken-config")
    def broken_config() -> None:
        raise ConfigurationError("BAKEOFF_SOMETHING is wrong\nsecond line never shown")

    @click.command("fine")
    def fine() -> None:
        click.echo("ok")

    for command in (exit_three, broken_config, fine):
        cli.add_command(command)
    yield
    for name in ("exit-three", "broken-config", "fine"):
        cli.commands.pop(name, None)


def test_a_subcommands_exit_code_reaches_the_shell(extra_commands: None) -> None:
    with pytest.raises(SystemExit) as info:
        main(["exit-three"])
    assert info.value.code == 3


def test_bakeoff_errors_are_one_line_with_exit_1(
    extra_commands: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["broken-config"])
    assert info.value.code == 1
    assert capsys.readouterr().err == "bakeoff: error: BAKEOFF_SOMETHING is wrong\n"


def test_success_returns_normally(extra_commands: None, capsys: pytest.CaptureFixture[str]) -> None:
    main(["fine"])
    assert capsys.readouterr().out == "ok\n"
