"""The detector contract, checked on every registered kind.

A new detector gets these checks by registering: each kind runs on a seeded stream with a
crisis in it (so firing and hysteresis state is exercised too). Kinds that need options
or a stream of their own declare them in ``STREAMS``; the others get 5-minute counts.
"""
from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from detectors.base import Bucket, Detector, Finding
from detectors.registry import kinds, params_for

Stream = Callable[[int], list[Bucket]]


def five_minute_counts(n: int) -> list[Bucket]:
    rng = np.random.default_rng(1)
    lam = np.full(n, 3.0)
    lam[n // 2:n // 2 + 24] *= 10.0  # a two-hour surge
    lam[n // 3] *= 15.0  # a blip
    return [Bucket(i * 300.0, (i + 1) * 300.0, float(x), float(x)) for i, x in enumerate(rng.poisson(lam))]


def hourly_counts(n: int) -> list[Bucket]:
    rng = np.random.default_rng(2)
    t = np.arange(n)
    lam = 5.0 * (1.0 + 0.5 * np.sin(t / 24.0 * 2.0 * np.pi)) * np.minimum(2.0 ** (np.maximum(t - 240, 0) / 8.0), 50.0)
    return [Bucket(i * 3600.0, (i + 1) * 3600.0, float(x), float(x)) for i, x in enumerate(rng.poisson(lam))]


def daily_means(n: int) -> list[Bucket]:
    rng = np.random.default_rng(3)
    values = 90.0 + rng.normal(0.0, 1.5, n)
    values[60:100] *= 0.85
    return [Bucket(i * 86400.0, (i + 1) * 86400.0, None if i % 11 == 0 else float(v), 1.0)
            for i, v in enumerate(values)]


# kind -> (options, stream, length of the stream used for the equivalence checks)
STREAMS: dict[str, tuple[dict[str, Any], Stream, int]] = {
    "threshold": ({"limit": 8.0, "for_buckets": 2}, five_minute_counts, 800),
    "rate_surge": ({}, five_minute_counts, 800),
    "exponential_growth": ({}, hourly_counts, 300),
    "sustained_drop": ({}, daily_means, 140),
}


def setup(kind: str) -> tuple[dict[str, Any], Stream, int]:
    return STREAMS.get(kind, ({}, five_minute_counts, 800))


def build(kind: str) -> Detector:
    options = setup(kind)[0]
    return params_for(kind, options).build()


def replay(det: Detector, buckets: list[Bucket]) -> list[Finding | None]:
    out = []
    for bucket in buckets:
        out.append(det.score_one(bucket))
        det.learn_one(bucket)
    return out


def stream(kind: str) -> list[Bucket]:
    _, make, n = setup(kind)
    return make(n)


KINDS = kinds()


def test_every_seed_kind_is_registered() -> None:
    assert {"threshold", "rate_surge", "exponential_growth", "sustained_drop"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_stream_exercises_a_finding(kind: str) -> None:
    findings = replay(build(kind), stream(kind))
    assert any(f is not None for f in findings), "the contract stream should make the detector fire"
    assert findings[0] is None


@pytest.mark.parametrize("kind", KINDS)
def test_restore_then_continue_matches_an_uninterrupted_run(kind: str) -> None:
    buckets = stream(kind)
    whole = replay(build(kind), buckets)
    fired = [i for i, f in enumerate(whole) if f is not None]
    cuts = sorted({1, len(buckets) // 4, fired[0], fired[0] + 1, fired[len(fired) // 2], len(buckets) - 2})
    for cut in cuts:
        first = build(kind)
        replay(first, buckets[:cut])
        state = orjson.loads(orjson.dumps(first.snapshot()))
        second = build(kind)
        second.restore(state)
        assert replay(second, buckets[cut:]) == whole[cut:], f"diverged after a restore at bucket {cut}"


@pytest.mark.parametrize("kind", KINDS)
def test_score_one_changes_nothing(kind: str) -> None:
    det = build(kind)
    for bucket in stream(kind):
        before = orjson.dumps(det.snapshot())
        once = det.score_one(bucket)
        assert det.score_one(bucket) == once
        assert orjson.dumps(det.snapshot()) == before
        det.learn_one(bucket)


@pytest.mark.parametrize("kind", KINDS)
def test_learning_without_scoring_learns_the_same(kind: str) -> None:
    buckets = stream(kind)
    scored, unscored = build(kind), build(kind)
    for bucket in buckets:
        scored.score_one(bucket)
        scored.learn_one(bucket)
        unscored.learn_one(bucket)
    assert orjson.dumps(scored.snapshot()) == orjson.dumps(unscored.snapshot())


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_are_not_mutated(kind: str) -> None:
    buckets = stream(kind)
    pristine = copy.deepcopy(buckets)
    det = build(kind)
    replay(det, buckets)
    assert buckets == pristine
    state = orjson.loads(orjson.dumps(det.snapshot()))
    kept = copy.deepcopy(state)
    build(kind).restore(state)
    assert state == kept


def plain_json(value: Any) -> bool:
    """Only JSON's own types, with finite floats (no NaN, no numpy scalars)."""
    if value is None or type(value) in (int, str, bool):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(plain_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and plain_json(v) for k, v in value.items())
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_snapshots_and_evidence_are_plain_json(kind: str) -> None:
    det = build(kind)
    for bucket in stream(kind):
        finding = det.score_one(bucket)
        if finding is not None:
            assert plain_json(finding.evidence), finding.evidence
            assert isinstance(finding.message, str) and "\n" not in finding.message
            assert math.isfinite(finding.strength)
        det.learn_one(bucket)
        assert plain_json(det.snapshot())


@pytest.mark.parametrize("kind", KINDS)
def test_explain_is_plain_json_and_changes_nothing(kind: str) -> None:
    det, twin = build(kind), build(kind)
    for bucket in stream(kind):
        before = orjson.dumps(det.snapshot())
        explained = det.explain(bucket)
        assert orjson.loads(orjson.dumps(explained)) == explained
        assert plain_json(explained), explained
        assert isinstance(explained["why"], str) and explained["why"]
        assert orjson.dumps(det.snapshot()) == before
        assert det.score_one(bucket) == twin.score_one(bucket)  # explaining first changes no finding
        det.learn_one(bucket)
        twin.learn_one(bucket)
    assert orjson.dumps(det.snapshot()) == orjson.dumps(twin.snapshot())


@pytest.mark.parametrize("kind", KINDS)
def test_explain_says_why_it_fires(kind: str) -> None:
    det = build(kind)
    for bucket in stream(kind):
        explained = det.explain(bucket)
        finding = det.score_one(bucket)
        assert explained["fires"] is (finding is not None)
        det.learn_one(bucket)


@pytest.mark.parametrize("kind", KINDS)
def test_state_stays_small_however_long_the_stream(kind: str) -> None:
    _, make, n = setup(kind)
    short, long = build(kind), build(kind)
    replay(short, make(n))
    replay(long, make(20 * n))
    size = len(orjson.dumps(long.snapshot()))
    assert size <= 2048
    assert size <= len(orjson.dumps(short.snapshot())) + 256
    in_memory = sys.getsizeof(long) + sum(
        sys.getsizeof(getattr(long, name)) for name in getattr(type(long), "__slots__", ()) if name != "params"
    )
    assert in_memory < 4096


@pytest.mark.parametrize("kind", KINDS)
def test_params_reject_unknown_options_and_are_frozen(kind: str) -> None:
    options = setup(kind)[0]
    with pytest.raises(ValueError, match="no_such_option"):
        params_for(kind, {**options, "no_such_option": 1})
    params = params_for(kind, options)
    with pytest.raises(ValueError):
        params.no_such_option = 2  # type: ignore[attr-defined]
    assert params.build().kind == kind
