"""Each request's fate is a pure function of (profile, seed, path, attempt) with the advertised rates."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from bakeoff.workload.faults import HOSTILE_FAULTS, PROFILES, REALISTIC_RATES, fate_for

SAMPLE = 2000


def _realistic_faults(seed: int) -> Counter[str]:
    return Counter(fate_for("realistic", seed, f"/articles/{i}", 1).fault for i in range(SAMPLE))


@pytest.mark.parametrize("seed", [0, 7])
def test_realistic_fault_rates_over_2000_requests_are_within_one_point(seed: int) -> None:
    counts = _realistic_faults(seed)
    for fault, rate in REALISTIC_RATES.items():
        assert abs(counts[fault] / SAMPLE - rate) <= 0.01, (fault, counts[fault])


def test_realistic_latency_median_is_about_150_ms() -> None:
    latencies = [fate_for("realistic", 3, f"/articles/{i}", 1).latency_ms for i in range(SAMPLE)]
    assert 135 <= statistics.median(latencies) <= 165


def test_latency_scale_shrinks_latency_proportionally() -> None:
    full = fate_for("realistic", 1, "/articles/5", 1).latency_ms
    assert fate_for("realistic", 1, "/articles/5", 1, latency_scale=0.01).latency_ms == pytest.approx(
        full / 100
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_same_seed_gives_the_same_fates(profile: str) -> None:
    first = [fate_for(profile, 11, f"/articles/{i}", a) for i in range(300) for a in (1, 2)]
    second = [fate_for(profile, 11, f"/articles/{i}", a) for i in range(300) for a in (1, 2)]
    assert first == second


def test_another_seed_gives_other_fates() -> None:
    def fates(seed: int) -> list[object]:
        return [fate_for("realistic", seed, f"/articles/{i}", 1) for i in range(50)]

    assert fates(1) != fates(2)


def test_realistic_404_is_permanent_but_5xx_can_pass_on_retry() -> None:
    paths = [f"/articles/{i}" for i in range(SAMPLE)]
    gone = [p for p in paths if fate_for("realistic", 0, p, 1).fault == "not_found"]
    assert gone and all(fate_for("realistic", 0, p, 2).fault == "not_found" for p in gone)
    failed = [p for p in paths if fate_for("realistic", 0, p, 1).fault == "http_5xx"]
    assert any(fate_for("realistic", 0, p, 2).fault == "ok" for p in failed)


def test_flaky_paths_fail_in_a_short_burst_then_succeed() -> None:
    paths = [f"/articles/{i}" for i in range(500)]
    bursty = [p for p in paths if fate_for("flaky", 0, p, 1).fault != "ok"]
    assert 0.2 <= len(bursty) / len(paths) <= 0.4
    for path in bursty:
        fates = [fate_for("flaky", 0, path, a).fault for a in range(1, 6)]
        first_ok = fates.index("ok")
        assert 1 <= first_ok <= 3 and set(fates[:first_ok]) <= {"http_5xx", "reset"}
        assert all(f == "ok" for f in fates[first_ok:])


def test_hostile_profile_serves_every_hostile_fault() -> None:
    counts = Counter(fate_for("hostile", 0, f"/articles/{i}", 1).fault for i in range(SAMPLE))
    assert set(HOSTILE_FAULTS) <= set(counts)
    assert counts["ok"] / SAMPLE > 0.3


def test_none_profile_never_faults_or_waits() -> None:
    fates = {fate_for("none", 5, f"/articles/{i}", 1) for i in range(100)}
    assert {(f.fault, f.latency_ms) for f in fates} == {("ok", 0.0)}


@pytest.mark.parametrize(("profile", "attempt"), [("bogus", 1), ("none", 0)])
def test_bad_profile_or_attempt_is_refused(profile: str, attempt: int) -> None:
    with pytest.raises(ValueError):
        fate_for(profile, 0, "/x", attempt)
