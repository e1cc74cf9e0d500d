"""Start ``examples/inngest_import_app.py`` (the import written with Inngest's official Python SDK).

``bakeoff demo --inngest-transport http`` runs the inngest arm through that app: it is loaded from
the repository checkout (it is an example, not part of the installed package) and served on a
loopback port by uvicorn in a background thread.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bakeoff.backends.inngest.server.background import BackgroundServer
from bakeoff.contract import ConfigurationError

__all__ = ["EXAMPLE_APP", "serve_example_import_app"]

EXAMPLE_APP = Path(__file__).resolve().parents[5] / "examples" / "inngest_import_app.py"
"""Where the example lives in a checkout of the repository."""


def serve_example_import_app(engine: Engine, import_settings: Any) -> tuple[BackgroundServer, str]:
    """The example app started on a free loopback port, and its serve URL (``.../api/inngest``)."""
    if not EXAMPLE_APP.is_file():
        raise ConfigurationError(
            f"the HTTP transport runs {EXAMPLE_APP}, which is not there (a repository checkout)"
        )
    try:
        import fastapi  # noqa: F401
        import inngest  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            f"the HTTP transport's example app needs {exc.name}: pip install -e '.[dev]' "
            "(inngest>=0.5.19,<0.6 and fastapi)"
        ) from exc
    spec = importlib.util.spec_from_file_location("bakeoff_inngest_import_app", EXAMPLE_APP)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cannot load {EXAMPLE_APP}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = BackgroundServer(module.create_app(engine, import_settings=import_settings)).start()
    return server, f"{server.url}/api/inngest"
