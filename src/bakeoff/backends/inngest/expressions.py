"""CEL expressions (concurrency/throttle keys, ``if_exp``, idempotency) through ``cel-python``.

Expressions see the variables Inngest gives them: ``event`` (the run's trigger event) and, for
matching an incoming event against a waiting run, ``async``. An invalid expression is rejected when
the function is created; one that fails at evaluation (a missing field) counts as "no match".
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from bakeoff.backends.inngest.errors import InvalidFunction

__all__ = ["Expression", "compile_expression"]

logger = logging.getLogger(__name__)


class Expression:
    """A compiled CEL expression; evaluate with plain JSON-like variables."""

    def __init__(self, source: str, program: Any) -> None:
        self.source = source
        self._program = program

    def evaluate(self, **variables: Any) -> Any:
        """The value as plain Python; raises ValueError when evaluation fails."""
        activation = {name: json_to_cel(value) for name, value in variables.items()}
        result = self._program.evaluate(activation)
        if isinstance(result, CELEvalError):
            raise ValueError(f"CEL {self.source!r}: {result}")
        return _to_python(result)

    def matches(self, **variables: Any) -> bool:
        """True when the expression evaluates to true; evaluation errors are a non-match (logged)."""
        try:
            return self.evaluate(**variables) is True
        except Exception as exc:  # cel-python raises several unrelated types
            logger.debug("CEL %r did not evaluate: %s", self.source, exc)
            return False

    def key(self, **variables: Any) -> str:
        """The expression's value as a key string (for concurrency, throttle, idempotency keys)."""
        try:
            value = self.evaluate(**variables)
        except Exception as exc:
            logger.debug("CEL key %r did not evaluate: %s", self.source, exc)
            return ""
        return value if isinstance(value, str) else repr(value)


def _to_python(value: Any) -> Any:
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {_to_python(k): _to_python(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType):
        return [_to_python(v) for v in value]
    return value


@lru_cache(maxsize=512)
def compile_expression(source: str, *, field_name: str = "expression") -> Expression:
    """Compile ``source``; raise :class:`InvalidFunction` naming ``field_name`` when it is not CEL."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidFunction(f"{field_name} must be a non-empty CEL expression")
    env = celpy.Environment()
    try:
        ast = env.compile(source)
        program = env.program(ast)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidFunction(f"{field_name} is not a valid CEL expression {source!r}: {first}") from exc
    return Expression(source, program)
