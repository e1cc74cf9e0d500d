"""Bucketing: the published vectors, the shares over many keys, edge cases, and the pure Layout."""

from __future__ import annotations

import hashlib
import random
import uuid

import pytest

from bakeoff.contract import InvalidRequest
from bakeoff.router import Layout, arm_for_bucket, bucket_of, derive_salt
from bakeoff.router.bucketing import check_weights

ARMS = ("legacy", "pgboss", "inngest")

# The five vectors published in docs/router.md: (salt, unit key, weights, bucket, arm).
PUBLISHED_VECTORS = [
    ("article-import", "user-42", (1, 1, 1), 0.3597055483316364, "pgboss"),
    ("article-import", "https://example.com/articles/1", (1, 1, 1), 0.1272516176846264, "legacy"),
    ("article-import", "user-1", (1, 1, 1), 0.9504577262365823, "inngest"),
    ("article-import", "user-3", (2, 1, 1), 0.6904652084232815, "pgboss"),
    ("article-import:p2", "user-42", (2, 1, 1), 0.3149205670701133, "legacy"),
]


@pytest.mark.parametrize(("salt", "key", "weights", "bucket", "arm"), PUBLISHED_VECTORS)
def test_published_vectors_hold(
    salt: str, key: str, weights: tuple[int, ...], bucket: float, arm: str
) -> None:
    """Each vector in docs/router.md gives exactly that bucket and arm."""
    assert bucket_of(salt, key) == bucket
    assert Layout(salt=salt, arms=ARMS, weights=weights).assign(key) == arm
    assert arm_for_bucket(bucket, ARMS, weights) == arm


def test_docs_publish_the_same_vectors() -> None:
    """docs/router.md shows the vectors this test checks, digit for digit."""
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "router.md").read_text(encoding="utf-8")
    for salt, key, _weights, bucket, arm in PUBLISHED_VECTORS:
        assert f"| `{salt}` | `{key}` |" in doc
        assert f"{bucket!r}" in doc and f"`{arm}`" in doc


def test_bucket_is_the_first_eight_digest_bytes_over_two_to_the_64() -> None:
    """The formula, spelled out independently of the module."""
    digest = hashlib.sha256(b"s:k").digest()
    assert bucket_of("s", "k") == int.from_bytes(digest[:8], "big") / 2**64


@pytest.mark.parametrize(
    "weights",
    [(1, 1, 1), (50, 25, 25), (2, 1, 1), (0.2, 0.3, 0.5)],
)
def test_thirty_thousand_random_keys_land_within_one_and_a_half_points(weights: tuple[float, ...]) -> None:
    """Shares over 30,000 random unit keys are within 1.5 percentage points of the configured shares."""
    layout = Layout(salt="article-import", arms=ARMS, weights=weights)
    counts = dict.fromkeys(ARMS, 0)
    for _ in range(30_000):
        counts[layout.assign(str(uuid.uuid4()))] += 1
    total = sum(weights)
    for arm, weight in zip(ARMS, weights, strict=True):
        assert abs(counts[arm] / 30_000 - weight / total) <= 0.015, (arm, counts)


def test_layout_agrees_with_the_reference_rule_on_random_weights() -> None:
    """The bisect in Layout gives the same arm as the documented left-to-right scan."""
    rng = random.Random(20261129)
    for _ in range(200):
        weights = tuple(rng.choice([0, 0, 1, 2, 3.5, 10]) for _ in ARMS)
        if sum(weights) == 0:
            continue
        layout = Layout(salt="s", arms=ARMS, weights=weights)
        for i in range(50):
            key = f"k{i}"
            assert layout.assign(key) == arm_for_bucket(bucket_of("s", key), ARMS, weights)


def test_zero_weight_arm_is_never_assigned_and_edges_go_to_the_last_weighted_arm() -> None:
    """An arm of weight 0 owns no range; a bucket rounded to 1.0 goes to the last weighted arm."""
    assert arm_for_bucket(0.0, ARMS, (0, 1, 1)) == "pgboss"
    assert arm_for_bucket(0.5, ARMS, (1, 0, 1)) == "inngest"
    assert arm_for_bucket(1.0, ARMS, (1, 1, 0)) == "pgboss"
    assert arm_for_bucket(1.0, ARMS, (1, 1, 1)) == "inngest"
    layout = Layout(salt="s", arms=ARMS, weights=(1, 0, 1))
    assert {layout.assign(f"k{i}") for i in range(2000)} == {"legacy", "inngest"}


def test_a_new_phase_salt_reshuffles_units() -> None:
    """Phase salts differ and move a large share of units (re-randomisation, not a shifted edge)."""
    assert derive_salt("article-import", 1) == "article-import"
    assert derive_salt("article-import", 3) == "article-import:p3"
    one = Layout(salt=derive_salt("x", 1), arms=ARMS, weights=(1, 1, 1))
    two = Layout(salt=derive_salt("x", 2), arms=ARMS, weights=(1, 1, 1))
    moved = sum(one.assign(f"u{i}") != two.assign(f"u{i}") for i in range(3000))
    assert 0.55 < moved / 3000 < 0.78  # two independent thirds disagree 2/3 of the time


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ((1, 1), "2 values but there are 3 arms"),
        ((1, -1, 1), "weight of arm 'pgboss' must be a finite number >= 0"),
        ((0, 0, 0), "must not all be zero"),
        ((1, float("nan"), 1), "'pgboss'"),
        ((1, "2", 1), "must be a number"),
    ],
)
def test_bad_weights_are_refused_naming_the_problem(weights: tuple[object, ...], fragment: str) -> None:
    """Wrong length, negative, all-zero, NaN or non-numeric weights raise a ValueError that says so."""
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")) as caught:
        check_weights(ARMS, weights)  # type: ignore[arg-type]
    assert isinstance(caught.value, InvalidRequest)


def test_phase_must_be_positive() -> None:
    """derive_salt refuses phase 0."""
    with pytest.raises(ValueError, match="phase must be >= 1"):
        derive_salt("s", 0)
