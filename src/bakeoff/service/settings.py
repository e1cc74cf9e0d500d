"""What ``bakeoff serve`` is configured with: the experiment, the tokens and the limits.

=========================== ============================================================
``BAKEOFF_ADMIN_TOKEN``     enables the admin routes (kill, revive, weights, overrides);
                            without it they answer 403 "admin routes are disabled"
``BAKEOFF_API_TOKEN``       when set, every other route except ``/healthz``, ``/readyz`` and
                            ``/openapi.json`` needs ``Authorization: Bearer <token>``
=========================== ============================================================

Tokens are compared in constant time and never logged or shown in a ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bakeoff.contract import ConfigurationError
from bakeoff.router import DEFAULT_EXPERIMENT, DEFAULT_SUBMIT_TIMEOUT

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_STATE_REFRESH_SECONDS", "ServiceSettings"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_STATE_REFRESH_SECONDS = 1.0
MIN_TOKEN_LENGTH = 16


def _token(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    if len(value) < MIN_TOKEN_LENGTH or value != value.strip():
        raise ConfigurationError(
            f"{name} must be at least {MIN_TOKEN_LENGTH} characters without surrounding whitespace"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The service's configuration; tokens stay out of ``repr`` so they never reach a log."""

    experiment: str = DEFAULT_EXPERIMENT
    admin_token: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    submit_timeout: float = DEFAULT_SUBMIT_TIMEOUT
    state_refresh_seconds: float = DEFAULT_STATE_REFRESH_SECONDS
    """How often the evaluation snapshot (phase, kill switches, overrides) is re-read from the database."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise ConfigurationError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
        if not 0 < self.state_refresh_seconds <= 60:
            raise ConfigurationError(
                f"state_refresh_seconds must be in (0, 60], not {self.state_refresh_seconds!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        """Tokens from ``BAKEOFF_ADMIN_TOKEN`` and ``BAKEOFF_API_TOKEN``; other fields from ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "admin_token": _token(env, "BAKEOFF_ADMIN_TOKEN"),
            "api_token": _token(env, "BAKEOFF_API_TOKEN"),
            **overrides,
        }
        return cls(**values)  # type: ignore[arg-type]
