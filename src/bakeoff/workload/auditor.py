"""The Epistemic Auditor fan-out: the seed's stress workflow as pure, deterministic functions.

A document is split into chunks, each chunk is routed to the plugins that apply, every (plugin,
chunk) pair is one plugin call (200 chunks x 4 plugins = 800 calls, the shape that breaks
Inngest's 1,000-step budget once retries and bookkeeping steps are added), and the results are
synthesized: findings are deduplicated across plugins and chunks, and a stable ``digest`` lets
the three arms prove they computed the same answer.

Plugins here are deterministic stand-ins for LLM calls with the same signature: their latency
(lognormal around ``plugin_latency_ms``), failures (``failure_rate``, decided per attempt so a
retry can succeed) and output size (``finding_bytes`` per finding) all come from the seed and are
configurable, so the Inngest 4 MiB step-output limit can be hit on purpose. Every value crossing
a function boundary is JSON-safe, so a backend may run each call as a separate job or step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from statistics import NormalDist
from typing import Any

from bakeoff.contract import BakeoffError, InvalidRequest

__all__ = [
    "PLUGIN_NAMES",
    "AuditorConfig",
    "Chunk",
    "PluginFailed",
    "route_chunk",
    "run_local",
    "run_plugin",
    "split_document",
    "synthesize",
]

logger = logging.getLogger(__name__)

PLUGIN_NAMES = ("fact_check", "math", "spelling", "forecast")
SEVERITIES = ("info", "low", "medium", "high")
WORDS_PER_CHUNK = 60
MAX_CHUNKS = 10_000
MAX_LATENCY_MS = 60_000.0
_NORMAL = NormalDist()
_FILLER = (
    "the evidence offered here does not fully support the stated conclusion and a careful reader "
    "would want the source the sample size and the comparison baseline before accepting it "
)


class PluginFailed(BakeoffError):
    """A plugin call failed (deterministically, by seed); another attempt may succeed."""

    retryable = True

    def __init__(self, plugin: str, chunk_id: int, attempt: int) -> None:
        super().__init__(f"plugin {plugin} failed on chunk {chunk_id} (attempt {attempt})")
        self.plugin, self.chunk_id, self.attempt = plugin, chunk_id, attempt

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.plugin, self.chunk_id, self.attempt))


@dataclass(frozen=True, kw_only=True)
class AuditorConfig:
    """The shape and behaviour of one audit run."""

    chunks: int = 200
    plugins: int = 4
    seed: int = 0
    plugin_latency_ms: float = 0.0
    """Median latency of one plugin call (lognormal, sigma ``latency_sigma``); 0 means no sleep."""
    latency_sigma: float = 0.5
    failure_rate: float = 0.0
    """Chance that one attempt of one call fails; decided by (seed, plugin, chunk, attempt)."""
    finding_bytes: int = 256
    """Approximate size of each finding's note, to scale output size."""
    findings_per_call: int = 2
    route_all: bool = True
    """True: every plugin applies to every chunk. False: each chunk goes to a seeded subset."""

    def __post_init__(self) -> None:
        _check_range("chunks", self.chunks, 1, MAX_CHUNKS)
        _check_range("plugins", self.plugins, 1, len(PLUGIN_NAMES))
        _check_range("plugin_latency_ms", self.plugin_latency_ms, 0, MAX_LATENCY_MS)
        _check_range("latency_sigma", self.latency_sigma, 0, 3)
        _check_range("failure_rate", self.failure_rate, 0, 0.99)
        _check_range("finding_bytes", self.finding_bytes, 0, 1024 * 1024)
        _check_range("findings_per_call", self.findings_per_call, 0, 100)

    @property
    def plugin_names(self) -> tuple[str, ...]:
        return PLUGIN_NAMES[: self.plugins]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditorConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidRequest(f"AuditorConfig has no field(s) {', '.join(sorted(unknown))}")
        return cls(**dict(data))


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """One slice of the document."""

    chunk_id: int
    offset: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chunk:
        return cls(chunk_id=int(data["chunk_id"]), offset=int(data["offset"]), text=str(data["text"]))


def _uniform(*parts: object) -> float:
    """A uniform draw in [0, 1) that depends only on ``parts``."""
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _claim_pool_size(config: AuditorConfig) -> int:
    # Fewer distinct claims than calls, so the same claim turns up in several chunks and plugins
    # and synthesis has real duplicates to merge.
    return max(4, config.chunks // 2)


def split_document(config: AuditorConfig) -> list[Chunk]:
    """The seeded document, split into ``config.chunks`` chunks of about 60 words."""
    words = _FILLER.split()
    chunks: list[Chunk] = []
    offset = 0
    for chunk_id in range(config.chunks):
        start = int(_uniform(config.seed, "chunk", chunk_id) * len(words))
        body = " ".join(words[(start + k) % len(words)] for k in range(WORDS_PER_CHUNK))
        claim = int(_uniform(config.seed, "claim", chunk_id) * _claim_pool_size(config))
        text = f"Claim {claim}: {body}."
        chunks.append(Chunk(chunk_id=chunk_id, offset=offset, text=text))
        offset += len(text) + 1
    return chunks


def route_chunk(chunk: Chunk, config: AuditorConfig) -> list[str]:
    """The plugins that apply to ``chunk``: all of them by default, else a seeded non-empty subset."""
    names = list(config.plugin_names)
    if config.route_all:
        return names
    chosen = [name for name in names if _uniform(config.seed, "route", chunk.chunk_id, name) < 0.5]
    return chosen or [names[chunk.chunk_id % len(names)]]


def plugin_latency_ms(plugin: str, chunk: Chunk, config: AuditorConfig, attempt: int = 1) -> float:
    """How long this call takes (pure; 0 when latency is off)."""
    if config.plugin_latency_ms <= 0:
        return 0.0
    u = min(max(_uniform(config.seed, "latency", plugin, chunk.chunk_id, attempt), 1e-12), 1 - 1e-12)
    return min(config.plugin_latency_ms * math.exp(config.latency_sigma * _NORMAL.inv_cdf(u)), MAX_LATENCY_MS)


def run_plugin(plugin: str, chunk: Chunk, config: AuditorConfig, *, attempt: int = 1) -> dict[str, Any]:
    """One plugin call: sleeps its latency, then fails (by seed) or returns its findings (JSON-safe)."""
    if plugin not in config.plugin_names:
        raise InvalidRequest(f"plugin must be one of {', '.join(config.plugin_names)}; got {plugin!r}")
    latency = plugin_latency_ms(plugin, chunk, config, attempt)
    if latency > 0:
        time.sleep(latency / 1000)
    if _uniform(config.seed, "fail", plugin, chunk.chunk_id, attempt) < config.failure_rate:
        raise PluginFailed(plugin, chunk.chunk_id, attempt)
    claim = chunk.text.split(":", 1)[0].removeprefix("Claim ")
    findings = [_finding(plugin, chunk, config, claim, k) for k in range(config.findings_per_call)]
    return {"plugin": plugin, "chunk_id": chunk.chunk_id, "findings": findings}


def _finding(plugin: str, chunk: Chunk, config: AuditorConfig, claim: str, k: int) -> dict[str, Any]:
    # The key depends on the claim, not the chunk or (for k = 0) the plugin: several plugins
    # flagging one claim in several chunks is one finding after synthesis.
    scope = "shared" if k == 0 else plugin
    key = f"claim-{claim}-{scope}-{k}"
    severity = SEVERITIES[int(_uniform(config.seed, "severity", plugin, chunk.chunk_id, k) * len(SEVERITIES))]
    note = (_FILLER * (config.finding_bytes // len(_FILLER) + 1))[: config.finding_bytes]
    return {"key": key, "kind": "claim" if k == 0 else plugin, "severity": severity, "note": note}


def synthesize(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge plugin results in any order: deduplicated findings, counts, and a stable digest."""
    merged: dict[str, dict[str, Any]] = {}
    calls = 0
    chunk_ids: set[int] = set()
    for result in results:
        calls += 1
        chunk_ids.add(int(result["chunk_id"]))
        for finding in result["findings"]:
            entry = merged.setdefault(
                finding["key"],
                {
                    "key": finding["key"],
                    "kind": finding["kind"],
                    "severity": "info",
                    "plugins": set(),
                    "chunks": set(),
                },
            )
            entry["plugins"].add(result["plugin"])
            entry["chunks"].add(int(result["chunk_id"]))
            if SEVERITIES.index(finding["severity"]) > SEVERITIES.index(entry["severity"]):
                entry["severity"] = finding["severity"]
    findings = [
        {**entry, "plugins": sorted(entry["plugins"]), "chunks": sorted(entry["chunks"])}
        for entry in (merged[key] for key in sorted(merged))
    ]
    canonical = json.dumps(findings, sort_keys=True, separators=(",", ":"))
    return {
        "calls": calls,
        "chunks": len(chunk_ids),
        "finding_count": len(findings),
        "findings": findings,
        "digest": hashlib.sha256(canonical.encode()).hexdigest(),
    }


def _call_with_retries(plugin: str, chunk: Chunk, config: AuditorConfig, max_attempts: int) -> dict[str, Any]:
    for attempt in range(1, max_attempts + 1):
        try:
            return run_plugin(plugin, chunk, config, attempt=attempt)
        except PluginFailed:
            logger.debug("plugin %s failed on chunk %d, attempt %d", plugin, chunk.chunk_id, attempt)
    raise PluginFailed(plugin, chunk.chunk_id, max_attempts)


def run_local(config: AuditorConfig, *, max_workers: int = 16, max_attempts: int = 10) -> dict[str, Any]:
    """The reference answer: every call in a thread pool (retrying failures), then synthesis."""
    if max_workers < 1 or max_attempts < 1:
        raise InvalidRequest(
            f"max_workers and max_attempts must be positive, got {max_workers}, {max_attempts}"
        )
    calls = [(plugin, chunk) for chunk in split_document(config) for plugin in route_chunk(chunk, config)]
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="auditor") as pool:
        futures = [
            pool.submit(_call_with_retries, plugin, chunk, config, max_attempts) for plugin, chunk in calls
        ]
        results = [future.result() for future in futures]
    return synthesize(results)
