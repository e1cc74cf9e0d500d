"""A spawned worker process of the legacy-style auditor run: one plugin over every chunk.

Usage: ``python -m bakeoff.trial.auditor_child CONFIG_JSON PLUGIN``. Like the legacy system's
children, it reports over stdout: progress lines, then one ``RESULT <json>`` line.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

from bakeoff.workload.auditor import AuditorConfig, route_chunk, run_plugin, split_document

MAX_ATTEMPTS = 10


def _call(plugin: str, chunk: object, config: AuditorConfig) -> dict[str, object]:
    last: Exception | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return run_plugin(plugin, chunk, config, attempt=attempt)  # type: ignore[arg-type]
        except Exception as exc:  # the legacy child retries in-process, as the current system's code does
            last = exc
    raise RuntimeError(f"{plugin} failed {MAX_ATTEMPTS} times: {last}")


def main(argv: list[str]) -> int:
    config = AuditorConfig.from_dict(json.loads(argv[0]))
    plugin = argv[1]
    chunks = [c for c in split_document(config) if plugin in route_chunk(c, config)]
    print(f"PROGRESS {plugin} chunks={len(chunks)}", flush=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: _call(plugin, c, config), chunks))
    print("RESULT " + json.dumps(results, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
