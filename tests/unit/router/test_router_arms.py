"""LazyBackends builds an arm's backend only when the router looks it up; factories load by name."""

from __future__ import annotations

from typing import Any

import pytest

from bakeoff.contract import ConfigurationError
from bakeoff.router.arms import LazyBackends, load_backend_factory


def test_membership_and_iteration_build_nothing_and_lookup_builds_once() -> None:
    """`arm in backends` and iteration are free; the first lookup builds, later lookups reuse it."""
    built: list[str] = []

    def factory(name: str, engine: Any) -> Any:
        built.append(name)
        return object()

    backends = LazyBackends(("legacy", "pgboss"), factory, engine=None)  # type: ignore[arg-type]
    assert "pgboss" in backends and "nosuch" not in backends
    assert list(backends) == ["legacy", "pgboss"] and len(backends) == 2
    assert built == []
    first = backends["pgboss"]
    assert backends["pgboss"] is first
    assert built == ["pgboss"] and backends.built == ("pgboss",)
    with pytest.raises(KeyError):
        backends["nosuch"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nocolon", "module:callable"),
        ("bakeoff.nosuch:x", "cannot load"),
        ("bakeoff.contract:ARM_NAMES", "not callable"),
    ],
)
def test_a_bad_factory_spec_is_a_configuration_error(spec: str, fragment: str) -> None:
    """The message says what is wrong with --backend-factory."""
    with pytest.raises(ConfigurationError, match=fragment):
        load_backend_factory(spec)


def test_the_default_factory_is_create_backend() -> None:
    """Without --backend-factory, route builds arms with bakeoff.backends.create_backend."""
    from bakeoff.backends import create_backend

    assert load_backend_factory("bakeoff.backends:create_backend") is create_backend
