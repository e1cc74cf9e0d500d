"""The auditor fan-out is deterministic, JSON-safe, order-independent, and retries can succeed."""

from __future__ import annotations

import json
import random

import pytest

from bakeoff.contract import InvalidRequest
from bakeoff.workload.auditor import (
    PLUGIN_NAMES,
    AuditorConfig,
    Chunk,
    PluginFailed,
    route_chunk,
    run_local,
    run_plugin,
    split_document,
    synthesize,
)


def test_default_config_fans_out_to_800_calls() -> None:
    config = AuditorConfig()
    chunks = split_document(config)
    assert len(chunks) == 200
    assert sum(len(route_chunk(chunk, config)) for chunk in chunks) == 800
    assert route_chunk(chunks[0], config) == list(PLUGIN_NAMES)


def test_selective_routing_is_seeded_and_never_empty() -> None:
    config = AuditorConfig(chunks=100, route_all=False, seed=4)
    routes = [route_chunk(chunk, config) for chunk in split_document(config)]
    assert all(routes) and routes == [route_chunk(chunk, config) for chunk in split_document(config)]
    assert 100 < sum(map(len, routes)) < 400


def test_the_same_seed_gives_the_same_document_and_outputs() -> None:
    config = AuditorConfig(chunks=20, seed=9)
    assert split_document(config) == split_document(AuditorConfig(chunks=20, seed=9))
    assert split_document(config) != split_document(AuditorConfig(chunks=20, seed=10))
    chunk = split_document(config)[3]
    assert run_plugin("math", chunk, config) == run_plugin("math", chunk, config)


def test_plugin_output_and_chunks_survive_json() -> None:
    config = AuditorConfig(chunks=5)
    chunk = split_document(config)[2]
    assert Chunk.from_dict(json.loads(json.dumps(chunk.to_dict()))) == chunk
    output = run_plugin("spelling", chunk, config)
    assert json.loads(json.dumps(output)) == output
    assert AuditorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_finding_bytes_scales_the_output_size() -> None:
    chunk = split_document(AuditorConfig(chunks=1))[0]
    small = run_plugin("math", chunk, AuditorConfig(chunks=1, finding_bytes=100))
    large = run_plugin("math", chunk, AuditorConfig(chunks=1, finding_bytes=100_000))
    assert len(json.dumps(large)) - len(json.dumps(small)) > 2 * 99_000


def test_failures_are_deterministic_per_attempt_so_a_retry_can_succeed() -> None:
    config = AuditorConfig(chunks=50, failure_rate=0.3, seed=1)
    chunks = split_document(config)
    failing = []
    for chunk in chunks:
        try:
            run_plugin("fact_check", chunk, config, attempt=1)
        except PluginFailed:
            failing.append(chunk)
    assert 5 <= len(failing) <= 25
    for chunk in failing:
        with pytest.raises(PluginFailed):
            run_plugin("fact_check", chunk, config, attempt=1)
    recovered = 0
    for chunk in failing:
        try:
            run_plugin("fact_check", chunk, config, attempt=2)
            recovered += 1
        except PluginFailed:
            pass
    assert recovered > 0


def test_synthesis_deduplicates_and_is_independent_of_order() -> None:
    config = AuditorConfig(chunks=40, seed=2)
    results = [run_plugin(p, c, config) for c in split_document(config) for p in route_chunk(c, config)]
    shuffled = results[:]
    random.Random(0).shuffle(shuffled)
    summary = synthesize(results)
    assert synthesize(shuffled) == summary
    assert summary["calls"] == 160 and summary["chunks"] == 40
    assert summary["finding_count"] < sum(len(r["findings"]) for r in results)
    assert any(len(f["plugins"]) == 4 and len(f["chunks"]) > 1 for f in summary["findings"])


def test_run_local_matches_a_serial_run_even_with_failures_and_retries() -> None:
    config = AuditorConfig(chunks=30, seed=5)
    serial = synthesize(
        run_plugin(p, c, config) for c in split_document(config) for p in route_chunk(c, config)
    )
    flaky = AuditorConfig(chunks=30, seed=5, failure_rate=0.2)
    assert run_local(config, max_workers=4)["digest"] == serial["digest"]
    assert run_local(flaky, max_workers=4)["digest"] == serial["digest"]


def test_run_local_gives_up_after_max_attempts() -> None:
    with pytest.raises(PluginFailed):
        run_local(AuditorConfig(chunks=20, failure_rate=0.9), max_workers=2, max_attempts=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("chunks", 0), ("plugins", 5), ("failure_rate", 1.0), ("finding_bytes", -1), ("plugin_latency_ms", -5)],
)
def test_bad_config_is_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(InvalidRequest, match=field):
        AuditorConfig(**{field: value})


def test_unknown_plugin_is_refused() -> None:
    config = AuditorConfig(chunks=1, plugins=2)
    with pytest.raises(InvalidRequest, match="plugin"):
        run_plugin("forecast", split_document(config)[0], config)
