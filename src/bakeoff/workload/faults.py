"""Fault profiles of the local article server: each request's fate as a pure function.

``fate_for(profile, seed, path, attempt)`` decides latency and fault from a hash of its arguments
alone, so two arms of an A/A trial given the same URLs get statistically identical work, a rerun
with the same seed gets the same fates, and a retry (the next attempt number) can succeed.

Profiles:

* ``none``: no latency, no faults.
* ``realistic``: lognormal latency (median 150 ms x ``latency_scale``), 2% 5xx, 1% timeouts (the
  server holds the response past the client's read timeout), 1% 404. A 404 depends on the path
  only (a dead link stays dead); 5xx and timeouts depend on the attempt too (a retry may pass).
* ``flaky``: 30% of paths fail in a burst of 1-3 consecutive attempts (503s and connection resets),
  then succeed.
* ``hostile``: a fixed share of paths is hostile for good: drip-fed bodies, 50 MB bodies, redirect
  loops, redirects to internal addresses, non-HTML, invalid UTF-8 and gzip bombs.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "FAULTS",
    "HOSTILE_FAULTS",
    "PROFILES",
    "REALISTIC_RATES",
    "Fate",
    "fate_for",
]

PROFILES = ("none", "realistic", "flaky", "hostile")
HOSTILE_FAULTS = (
    "drip",
    "huge",
    "redirect_loop",
    "redirect_internal",
    "not_html",
    "invalid_utf8",
    "gzip_bomb",
)
FAULTS = ("ok", "http_5xx", "timeout", "not_found", "reset", *HOSTILE_FAULTS)
REALISTIC_RATES = {"http_5xx": 0.02, "timeout": 0.01, "not_found": 0.01}
REALISTIC_MEDIAN_MS = 150.0
REALISTIC_SIGMA = 0.6
FLAKY_PATH_SHARE = 0.30
FLAKY_MAX_BURST = 3
HOSTILE_SHARE_EACH = 0.08
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True, kw_only=True)
class Fate:
    """What the server does with one request."""

    fault: str
    latency_ms: float
    status: int = 200


def _uniform(seed: int, path: str, attempt: int, purpose: str) -> float:
    """A uniform draw in [0, 1) that depends only on its arguments."""
    digest = hashlib.sha256(f"{seed}\x00{path}\x00{attempt}\x00{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _lognormal_ms(u: float, median_ms: float, sigma: float) -> float:
    z = _STANDARD_NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
    return median_ms * math.exp(sigma * z)


def fate_for(profile: str, seed: int, path: str, attempt: int, *, latency_scale: float = 1.0) -> Fate:
    """The fate of the ``attempt``-th request (1-based) for ``path`` under ``profile`` and ``seed``."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, got {attempt}")
    if latency_scale < 0:
        raise ValueError(f"latency_scale must not be negative, got {latency_scale}")
    if profile == "realistic":
        return _realistic(seed, path, attempt, latency_scale)
    if profile == "flaky":
        return _flaky(seed, path, attempt, latency_scale)
    if profile == "hostile":
        return _hostile(seed, path)
    return Fate(fault="ok", latency_ms=0.0)


def _realistic(seed: int, path: str, attempt: int, latency_scale: float) -> Fate:
    latency = _lognormal_ms(_uniform(seed, path, attempt, "latency"), REALISTIC_MEDIAN_MS, REALISTIC_SIGMA)
    latency *= latency_scale
    if _uniform(seed, path, 0, "gone") < REALISTIC_RATES["not_found"]:
        return Fate(fault="not_found", latency_ms=latency, status=404)
    roll = _uniform(seed, path, attempt, "fault")
    if roll < REALISTIC_RATES["http_5xx"]:
        status = (500, 502, 503, 504)[int(_uniform(seed, path, attempt, "status") * 4)]
        return Fate(fault="http_5xx", latency_ms=latency, status=status)
    if roll < REALISTIC_RATES["http_5xx"] + REALISTIC_RATES["timeout"]:
        return Fate(fault="timeout", latency_ms=latency)
    return Fate(fault="ok", latency_ms=latency)


def _flaky(seed: int, path: str, attempt: int, latency_scale: float) -> Fate:
    latency = _lognormal_ms(_uniform(seed, path, attempt, "latency"), 80.0, 0.5) * latency_scale
    if _uniform(seed, path, 0, "burst") >= FLAKY_PATH_SHARE:
        return Fate(fault="ok", latency_ms=latency)
    burst = 1 + int(_uniform(seed, path, 0, "burst-length") * FLAKY_MAX_BURST)
    if attempt > burst:
        return Fate(fault="ok", latency_ms=latency)
    if _uniform(seed, path, attempt, "kind") < 0.5:
        return Fate(fault="http_5xx", latency_ms=latency, status=503)
    return Fate(fault="reset", latency_ms=latency)


def _hostile(seed: int, path: str) -> Fate:
    roll = _uniform(seed, path, 0, "hostile")
    index = int(roll / HOSTILE_SHARE_EACH)
    if index < len(HOSTILE_FAULTS):
        return Fate(fault=HOSTILE_FAULTS[index], latency_ms=0.0)
    return Fate(fault="ok", latency_ms=0.0)
