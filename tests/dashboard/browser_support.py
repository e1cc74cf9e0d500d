"""Headless Chromium (Debian's ``chromium``) through Playwright, and axe-core from npm (imported by name).

Playwright drives the system browser (``executable_path``); ``playwright install`` is never run. Without
the browser the tests skip with one line naming the package, except in CI (``CI=true``), where a
missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bakeoff.testing.node import install_project

AXE_PROJECT = Path(__file__).parent / "node"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
MISSING = "Chromium is missing: install Debian's package with `apt-get install chromium`"


def chromium_path() -> str:
    """The system Chromium; skips the test (fails it in CI) when there is none."""
    configured = os.environ.get("BAKEOFF_CHROMIUM")
    for candidate in (configured, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(MISSING)
    pytest.skip(MISSING)


def axe_script() -> Path:
    """axe.min.js from the pinned axe-core, installed once into the cache as pg-boss's Node is."""
    folder = install_project(AXE_PROJECT, "dashboard-axe")
    return folder / "node_modules" / "axe-core" / "axe.min.js"
