"""``bakeoff experiment`` (create, show, weights, kill, revive, override) and ``bakeoff route URL``."""

from __future__ import annotations

import dataclasses

import click

from bakeoff.cli import CliContext, echo_json, pass_cli
from bakeoff.contract import ImportRequest
from bakeoff.router.arms import DEFAULT_BACKEND_FACTORY, LazyBackends, load_backend_factory
from bakeoff.router.experiment import DEFAULT_EXPERIMENT, Experiment
from bakeoff.router.router import DEFAULT_SUBMIT_TIMEOUT, Router
from bakeoff.router.store import ExperimentStore, UnknownExperiment

name_option = click.option(
    "--name", "-n", default=DEFAULT_EXPERIMENT, show_default=True, help="The experiment's name."
)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{what} must be a number, not {text!r}") from None


def _describe(store: ExperimentStore, name: str) -> dict[str, object]:
    state = store.load(name)
    phases = [
        {"phase": p.phase, "weights": list(p.weights), "salt": p.salt, "started_at": p.started_at.isoformat()}
        for p in store.phases(name)
    ]
    return {**state.as_dict(), "phases": phases, "overrides": store.overrides(name)}


@click.group()
def experiment() -> None:
    """Create, inspect and steer experiments: create, show, weights, kill, revive, override."""


@experiment.command()
@name_option
@click.option("--arms", default="legacy,pgboss,inngest", show_default=True, help="Arms, in bucket order.")
@click.option("--weights", default=None, help="Comma-separated weights in arm order (default: equal).")
@click.option(
    "--control", default="legacy", show_default=True, help="The arm that serves killed and failed arms."
)
@click.option("--salt", default=None, help="Salt of phase 1 (default: the name).")
@pass_cli
def create(
    cli: CliContext, name: str, arms: str, weights: str | None, control: str, salt: str | None
) -> None:
    """Create an experiment at phase 1 and print it as JSON."""
    parsed = None if weights is None else tuple(_number(w, "--weights") for w in _split(weights))
    declared = Experiment(name=name, arms=tuple(_split(arms)), weights=parsed, control=control, salt=salt)
    store = ExperimentStore(cli.engine())
    store.create(declared)
    echo_json(_describe(store, name))


@experiment.command()
@name_option
@pass_cli
def show(cli: CliContext, name: str) -> None:
    """Print the experiment's state, phases and overrides as JSON."""
    echo_json(_describe(ExperimentStore(cli.engine()), name))


@experiment.command()
@name_option
@click.argument("assignments", nargs=-1, required=True, metavar="ARM=WEIGHT...")
@pass_cli
def weights(cli: CliContext, name: str, assignments: tuple[str, ...]) -> None:
    """Set every arm's weight (e.g. legacy=2 pgboss=1 inngest=1); a change starts a new phase."""
    parsed: dict[str, float] = {}
    for item in assignments:
        arm, sep, value = item.partition("=")
        if not sep or not arm:
            raise click.BadParameter(f"expected ARM=WEIGHT, got {item!r}", param_hint="ARM=WEIGHT")
        parsed[arm.strip()] = _number(value, f"weight of {arm!r}")
    store = ExperimentStore(cli.engine())
    store.set_weights(name, parsed)
    echo_json(_describe(store, name))


@experiment.command()
@name_option
@click.argument("arm")
@pass_cli
def kill(cli: CliContext, name: str, arm: str) -> None:
    """Serve ARM's units by the control arm (assignments and phase unchanged)."""
    store = ExperimentStore(cli.engine())
    store.kill(name, arm)
    echo_json(_describe(store, name))


@experiment.command()
@name_option
@click.argument("arm")
@pass_cli
def revive(cli: CliContext, name: str, arm: str) -> None:
    """Serve ARM's units by ARM again."""
    store = ExperimentStore(cli.engine())
    store.revive(name, arm)
    echo_json(_describe(store, name))


@experiment.command()
@name_option
@click.argument("unit")
@click.argument("arm", required=False)
@click.option("--clear", is_flag=True, help="Remove UNIT's override instead.")
@pass_cli
def override(cli: CliContext, name: str, unit: str, arm: str | None, clear: bool) -> None:
    """Pin UNIT to ARM (recorded as reason 'override'), or --clear it."""
    if clear == (arm is not None):
        raise click.UsageError("give either ARM or --clear")
    store = ExperimentStore(cli.engine())
    if arm is None:
        store.clear_override(name, unit)
    else:
        store.set_override(name, unit, arm)
    echo_json(_describe(store, name))


@click.command()
@click.argument("url")
@click.option("--unit", "unit_key", default=None, help="What assignment sticks to (default: the URL).")
@click.option("--arm", "override_arm", default=None, help="Override the assignment (reason 'override').")
@click.option("--idempotency-key", default=None, help="A repeat with this key returns the first submission.")
@click.option("--experiment", "-e", "name", default=DEFAULT_EXPERIMENT, show_default=True)
@click.option(
    "--timeout", type=float, default=DEFAULT_SUBMIT_TIMEOUT, show_default=True, help="Arm budget (s)."
)
@click.option(
    "--backend-factory",
    default=DEFAULT_BACKEND_FACTORY,
    show_default=True,
    help="module:callable building an arm's backend from (name, engine).",
)
@pass_cli
def route(
    cli: CliContext,
    url: str,
    unit_key: str | None,
    override_arm: str | None,
    idempotency_key: str | None,
    name: str,
    timeout: float,
    backend_factory: str,
) -> None:
    """Route one article import and print the Submission as JSON (creates a default experiment)."""
    request = ImportRequest(url=url, unit_key=unit_key, idempotency_key=idempotency_key)
    engine = cli.engine()
    store = ExperimentStore(engine)
    try:
        arms = store.load(name).arms
        declared: Experiment | str = name
    except UnknownExperiment:
        declared = Experiment(name=name)
        arms = declared.arms
    backends = LazyBackends(arms, load_backend_factory(backend_factory), engine)
    with Router(engine, experiment=declared, backends=backends, submit_timeout=timeout) as router:
        submission = router.submit(request, override_arm=override_arm)
    echo_json(dataclasses.asdict(submission))
