"""Backends built on first use, so routing one job builds only the arm that serves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import import_module
from typing import Any

from sqlalchemy import Engine

from bakeoff.contract import ConfigurationError, JobBackend

__all__ = ["DEFAULT_BACKEND_FACTORY", "BackendFactory", "LazyBackends", "load_backend_factory"]

BackendFactory = Callable[..., JobBackend]
"""``factory(name, engine) -> JobBackend``, the shape of :func:`bakeoff.backends.create_backend`."""

DEFAULT_BACKEND_FACTORY = "bakeoff.backends:create_backend"


def load_backend_factory(spec: str) -> BackendFactory:
    """Import ``module:callable``; a clear :class:`ConfigurationError` when it is not one."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"backend factory must look like 'module:callable', not {spec!r}")
    try:
        factory = getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load backend factory {spec!r}: {exc}") from exc
    if not callable(factory):
        raise ConfigurationError(f"backend factory {spec!r} is not callable")
    built: BackendFactory = factory
    return built


class LazyBackends(Mapping[str, JobBackend]):
    """A ``{arm: backend}`` mapping whose backends are built by ``factory`` when first looked up."""

    def __init__(self, arms: Sequence[str], factory: BackendFactory, engine: Engine, **options: Any) -> None:
        self._arms = tuple(arms)
        self._factory = factory
        self._engine = engine
        self._options = options
        self._built: dict[str, JobBackend] = {}

    def __getitem__(self, arm: str) -> JobBackend:
        if arm not in self._arms:
            raise KeyError(arm)
        if arm not in self._built:
            self._built[arm] = self._factory(arm, self._engine, **self._options)
        return self._built[arm]

    def __contains__(self, arm: object) -> bool:
        return arm in self._arms  # without building anything

    def __iter__(self) -> Iterator[str]:
        return iter(self._arms)

    def __len__(self) -> int:
        return len(self._arms)

    @property
    def built(self) -> tuple[str, ...]:
        """The arms whose backends have been built so far."""
        return tuple(self._built)
