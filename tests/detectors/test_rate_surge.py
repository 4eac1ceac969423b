"""Behaviour of ``rate_surge`` on synthetic 5-minute alarm counts."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.base import Bucket, Finding, Severity
from detectors.rate_surge import Params

STEP = 300.0
PER_DAY = 288
ONSET = 3 * PER_DAY + 100  # after three days of normal


def rates(days: int = 5, base: float = 2.0) -> np.ndarray:
    """Expected counts per bucket with a daily cycle (0.7x at night to 1.3x in the evening)."""
    hour = (np.arange(days * PER_DAY) * STEP / 3600.0) % 24
    out: np.ndarray = base * (1.0 + 0.3 * np.sin((hour - 12.0) / 24.0 * 2 * np.pi))
    return out


def counts(lam: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(lam).astype(float)


def run(values: np.ndarray, totals: list[float | None] | None = None, **options: float) -> list[Finding | None]:
    det = Params(**options).build()  # type: ignore[arg-type]
    out = []
    for i, x in enumerate(values):
        total = None if totals is None else totals[i]
        bucket = Bucket(i * STEP, (i + 1) * STEP, float(x), float(x), total)
        out.append(det.score_one(bucket))
        det.learn_one(bucket)
    return out


def first(findings: list[Finding | None]) -> int | None:
    return next((i for i, f in enumerate(findings) if f is not None), None)


def surge(multiple: float, buckets: int, seed: int, base: float = 2.0) -> np.ndarray:
    lam = rates(base=base)
    lam[ONSET:ONSET + buckets] *= multiple
    return counts(lam, seed)


@pytest.mark.parametrize(
    ("values", "within"),
    [
        pytest.param(surge(20.0, 12, 1), 1, id="20x surge fires on its second bucket"),
        pytest.param(surge(10.0, 12, 1), 2, id="10x surge fires within two buckets"),
        pytest.param(surge(6.0, 36, 2), 3, id="6x surge fires within three buckets"),
        pytest.param(surge(5.0, 24, 3, base=0.6), 12, id="5x surge on a quiet service fires within an hour"),
    ],
)
def test_surges_fire_early(values: np.ndarray, within: int) -> None:
    at = first(run(values))
    assert at is not None and ONSET + 1 <= at <= ONSET + within


def test_a_surge_on_a_quiet_service_mostly_fires_on_its_second_bucket() -> None:
    # One alarm every two buckets: the second surge bucket alone is not conclusive, but two
    # buckets that both count ten or so are (each far beyond what a blip leaves behind).
    at = [first(run(surge(20.0, 24, seed, base=0.5))) for seed in range(20)]
    assert all(a is not None and a > ONSET for a in at)
    assert sum(a == ONSET + 1 for a in at if a is not None) >= 14


def test_severity_follows_the_multiple() -> None:
    findings = [f for f in run(surge(12.0, 36, 11)) if f is not None]
    assert findings and max(f.severity for f in findings) == Severity.severe
    for f in findings:
        expected = 3 if f.strength >= 10 else 2 if f.strength >= 5 else 1
        assert f.severity == Severity(expected)


def test_ramp_to_twelve_times_fires_on_the_way_up() -> None:
    lam = rates()
    ramp = np.clip((np.arange(len(lam)) - ONSET) / 48.0, 0.0, 1.0)  # 1x to 12x in 4 hours
    at = first(run(counts(lam * (1.0 + 11.0 * ramp), 4)))
    assert at is not None and ONSET < at < ONSET + 24


def blips(seed: int) -> np.ndarray:
    values = counts(rates(), seed)
    for i in range(ONSET, len(values), 97):
        values[i] = 40.0  # 20x for a single bucket
    return values


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(counts(rates(days=7), 5), id="a week of noise stays quiet"),
        pytest.param(blips(6), id="single-bucket blips stay quiet"),
        pytest.param(surge(2.0, 24, 7), id="a doubling is not far above normal"),
    ],
)
def test_distractors_stay_quiet(values: np.ndarray) -> None:
    assert first(run(values)) is None


def test_one_surge_makes_one_firing_episode() -> None:
    findings = run(surge(8.0, 36, 8))
    starts = [i for i, f in enumerate(findings) if f is not None and findings[i - 1] is None]
    assert len(starts) == 1


def test_warm_up_returns_none() -> None:
    values = counts(rates(days=1), 9)
    values[100:110] = 50.0
    assert first(run(values)) is None


def test_evidence_carries_expected_and_observed_rate_multiple_and_p_value() -> None:
    findings = run(surge(10.0, 12, 10))
    finding = next(f for f in findings if f is not None)
    evidence = finding.evidence
    assert evidence["expected_rate"] == pytest.approx(2.0, rel=0.5)
    assert evidence["observed_rate"] == pytest.approx(evidence["multiple"] * evidence["expected_rate"], rel=1e-3)
    assert evidence["multiple"] >= 5.0
    assert 0.0 < evidence["p_value"] < 1e-6
    assert "x normal" in finding.message


@pytest.mark.parametrize(
    ("bad_buckets", "fires"),
    [
        pytest.param(3, True, id="error rate over its threshold for three buckets fires"),
        pytest.param(2, False, id="two buckets over the threshold stay quiet"),
    ],
)
def test_error_rate_threshold_for_a_duration(bad_buckets: int, fires: bool) -> None:
    totals: list[float | None] = [1000.0] * 400
    errors = np.full(400, 10.0)  # 1 %
    errors[300:300 + bad_buckets] = 80.0  # 8 %
    findings = run(errors, totals, error_rate_threshold=0.05, threshold_buckets=3, warmup_hours=100)
    found = [f for f in findings if f is not None]
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["threshold"] == 0.05
        assert found[0].evidence["observed_rate"] == pytest.approx(0.08)


def test_error_rate_mode_follows_traffic_not_counts() -> None:
    # Traffic triples for an hour with the same 1 % error rate: more errors, no surge.
    totals: list[float | None] = [1000.0] * 600
    for i in range(500, 512):
        totals[i] = 3000.0
    errors = np.array([0.01 * t for t in totals])  # type: ignore[operator]
    findings = run(errors, totals, error_rate_threshold=0.5, warmup_hours=12)
    assert first(findings) is None


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_multipel"):
        Params(min_multipel=2)  # type: ignore[call-arg]
