"""``bakeoff articles serve`` in a real subprocess serves pages and prints what to export."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bakeoff.workload import ImportSettings, fetch_page
from bakeoff.workload.corpus import render_page

STARTUP_TIMEOUT = 60


def test_articles_serve_prints_its_url_and_allowlist_and_serves_pages() -> None:
    command = [
        sys.executable,
        "-m",
        "bakeoff",
        "articles",
        "serve",
        "--port",
        "0",
        "--profile",
        "none",
        "--seed",
        "3",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            second = proc.stdout.readline()
            base = re.search(r"at (http://127\.0\.0\.1:\d+)/articles/N", first)
            allow = re.fullmatch(r"export BAKEOFF_IMPORT_ALLOW_HOSTS=(\S+)\n", second)
            assert base and allow, (first, second)
            settings = ImportSettings.from_env({"BAKEOFF_IMPORT_ALLOW_HOSTS": allow.group(1)})
            page = fetch_page(f"{base.group(1)}/articles/0", settings=settings)
            assert page.status == 200
            assert page.html.encode(page.charset) == render_page(3, 0).body
        finally:
            proc.terminate()
            proc.wait(timeout=STARTUP_TIMEOUT)
