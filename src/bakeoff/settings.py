"""Settings read from ``BAKEOFF_*`` environment variables (and nothing global).

=========================== ============================================================
``BAKEOFF_DATABASE_URL``    any PostgreSQL; unset means the embedded server
``BAKEOFF_DATA_DIR``        where the embedded server keeps its data (default: user data dir)
``BAKEOFF_IMPORT_ALLOW_HOSTS`` comma-separated hosts/CIDRs the article import may fetch even
                            though they are private or loopback (the local article server)
=========================== ============================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from bakeoff.contract import ConfigurationError

__all__ = ["Settings"]


def _split_list(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where bakeoff keeps its data and which database it talks to."""

    database_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("bakeoff")))
    import_allow_hosts: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        url = env.get("BAKEOFF_DATABASE_URL") or None
        data_dir_raw = env.get("BAKEOFF_DATA_DIR")
        if data_dir_raw is not None and not data_dir_raw.strip():
            raise ConfigurationError("BAKEOFF_DATA_DIR is set but empty")
        kwargs: dict[str, object] = {
            "database_url": url,
            "import_allow_hosts": _split_list(env.get("BAKEOFF_IMPORT_ALLOW_HOSTS")),
        }
        if data_dir_raw:
            kwargs["data_dir"] = Path(data_dir_raw).expanduser()
        return cls(**kwargs)  # type: ignore[arg-type]
