"""Behaviour of ``exponential_growth`` on synthetic hourly complaint counts."""
from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.base import Bucket, Finding, Severity
from detectors.exponential_growth import Params

HOUR = 3600.0
DAYS = 30
ONSET = 21 * 24 + 5  # three weeks of normal, then 05:00 on a Monday


def normal(per_day: float, days: int = DAYS) -> np.ndarray:
    """Expected counts per hour: quiet nights, busy evenings (0.4x to 1.6x)."""
    hour = np.arange(days * 24) % 24
    out: np.ndarray = per_day / 24.0 * (1.0 + 0.6 * np.sin((hour - 14.0) / 24.0 * 2.0 * np.pi))
    return out


def counts(lam: np.ndarray, seed: int, size: float = 10.0) -> np.ndarray:
    """Overdispersed counts: negative binomial (gamma-Poisson) with size ``size``."""
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.gamma(size, lam / size)).astype(float)


def growth(doubling_hours: float, days: int = DAYS) -> np.ndarray:
    t = np.arange(days * 24) - ONSET
    return np.where(t > 0, 2.0 ** (np.maximum(t, 0) / doubling_hours), 1.0)


def run(values: np.ndarray, **options: float) -> list[Finding | None]:
    det = Params(**options).build()
    out = []
    for i, x in enumerate(values):
        bucket = Bucket(i * HOUR, (i + 1) * HOUR, float(x), float(x))
        out.append(det.score_one(bucket))
        det.learn_one(bucket)
    return out


def first(findings: list[Finding | None]) -> int | None:
    return next((i for i, f in enumerate(findings) if f is not None), None)


@pytest.mark.parametrize(
    ("per_day", "doubling", "seed", "max_multiple"),
    [
        pytest.param(120.0, 6.0, 2, 5.5, id="doubling every 6 h fires before 5.5x (about 12 h in)"),
        pytest.param(120.0, 16.0, 3, 3.5, id="doubling every 16 h fires before 3.5x"),
        pytest.param(30.0, 12.0, 4, 7.0, id="a quiet brand's surge fires before 7x"),
        pytest.param(240.0, 10.0, 5, 3.5, id="a busy brand's surge fires before 3.5x"),
    ],
)
def test_exponential_surges_fire_early(per_day: float, doubling: float, seed: int, max_multiple: float) -> None:
    multiple = growth(doubling)
    at = first(run(counts(normal(per_day) * multiple, seed)))
    assert at is not None and at > ONSET
    assert multiple[at + 1] < max_multiple  # the multiple when the alert is raised, at the hour's end


def test_the_seed_case_fires_around_three_times_normal() -> None:
    # SPEC's example: 50 complaints a day (2 an hour, fewer at night), 5 000 a day three days
    # later, doubling every 10.8 h from 05:00. At 2 an hour the evidence for growth reaches
    # the one-in-a-million significance a brand-hour test needs at about 3x normal (an
    # oracle knowing the baseline exactly does no better), so about half the draws fire
    # under 150 a day, and none late. Raised at the hour's event rather than its end (early
    # firing, tests/warning/test_early_firing.py), the median is under 3x.
    multiple = growth(10.8)
    raised = []
    for seed in range(100, 120):
        at = first(run(counts(normal(50.0) * multiple, seed)))
        assert at is not None and at > ONSET
        raised.append(multiple[at + 1])
    assert np.median(raised) < 3.3 and max(raised) < 4.5 and sum(m < 3.0 for m in raised) >= 6


@pytest.mark.parametrize("values", [
    pytest.param(counts(normal(120.0) * growth(8.0), 13), id="a surge"),
    pytest.param(counts(normal(30.0) * growth(12.0), 14), id="a quiet brand's surge"),
])
def test_the_firing_floor_bounds_what_can_fire(values: np.ndarray) -> None:
    # Early firing relies on it: under the floor, the next bucket cannot fire.
    det = Params().build()
    fired = 0
    for i, x in enumerate(values):
        start = i * HOUR
        floor = det.firing_floor(start)
        finding = det.score_one(Bucket(start, start + HOUR, float(x), float(x)))
        if finding is not None and not det.firing:
            fired += 1
            assert x >= floor
        if math.isfinite(floor) and floor > 0.0:
            below = math.nextafter(floor, 0.0)
            assert det.score_one(Bucket(start, start + HOUR, below, below)) is None
        det.learn_one(Bucket(start, start + HOUR, float(x), float(x)))
    assert fired == 1


def spikes(seed: int) -> np.ndarray:
    lam = normal(120.0, days=45)
    for start, height in ((24 * 20 + 18, [8.0, 15.0, 25.0]), (24 * 30 + 10, [20.0]), (24 * 38 + 2, [6.0, 9.0])):
        lam[start:start + len(height)] *= height  # 1-3 hour spikes, some still rising
    return counts(lam, seed)


def trend(seed: int) -> np.ndarray:
    ramp = np.clip((np.arange(60 * 24) - 14 * 24) / (28.0 * 24), 0.0, 1.0)  # 2x over four weeks
    return counts(normal(120.0, days=60) * (1.0 + ramp), seed)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(counts(normal(120.0, days=60), 5), id="two months of noise stay quiet"),
        pytest.param(spikes(6), id="1-3 hour spikes stay quiet"),
        pytest.param(trend(7), id="a slow linear trend stays quiet"),
    ],
)
def test_distractors_stay_quiet(values: np.ndarray) -> None:
    assert first(run(values)) is None


def test_one_surge_makes_one_firing_episode() -> None:
    multiple = np.minimum(growth(8.0), 100.0)  # grows to 100x, then plateaus for days
    findings = run(counts(normal(120.0) * multiple, 9))
    starts = [i for i, f in enumerate(findings) if f is not None and findings[i - 1] is None]
    assert len(starts) == 1


def test_warm_up_returns_none() -> None:
    lam = normal(120.0, days=7) * np.where(np.arange(7 * 24) > 3 * 24, 2.0 ** ((np.arange(7 * 24) - 72) / 8.0), 1.0)
    assert first(run(counts(lam, 10))) is None


def test_evidence_projects_ten_and_hundred_times_normal() -> None:
    findings = run(counts(normal(120.0) * growth(8.0), 11))
    finding = next(f for f in findings if f is not None)
    ev = finding.evidence
    assert ev["growth_rate_per_hour"] == pytest.approx(math.log(2) / ev["doubling_time_hours"], rel=1e-3)
    assert ev["doubling_time_hours"] < 24
    assert ev["multiple"] > 1.5
    low, high = ev["growth_rate_95ci"]
    assert low < ev["growth_rate_per_hour"] < high
    rate, log_multiple = ev["growth_rate_per_hour"], math.log(ev["multiple"])
    assert ev["hours_to_10x"] == pytest.approx((math.log(10) - log_multiple) / rate, abs=0.1)
    assert ev["hours_to_100x"] == pytest.approx((math.log(100) - log_multiple) / rate, abs=0.1)
    assert 0 < ev["p_value"] < 1e-6
    assert "doubling every" in finding.message and "100x projected in" in finding.message


def test_severe_when_hundred_times_normal_is_due_within_a_day() -> None:
    findings = [f for f in run(counts(normal(120.0) * growth(6.0), 12)) if f is not None]
    severe = [f for f in findings if f.severity is Severity.severe]
    assert severe and all(f.evidence["hours_to_100x"] <= 24 for f in severe)
    for f in findings:
        due = f.evidence["hours_to_100x"]
        if due is None or due > 24:
            assert f.severity is not Severity.severe


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="window_hour"):
        Params(window_hour=12)  # type: ignore[call-arg]


def test_recent_hours_must_fit_in_the_window() -> None:
    with pytest.raises(ValueError, match="less than window_hours"):
        Params.model_validate({"window_hours": 12, "recent_hours": 12})
    with pytest.raises(ValueError, match="min_doubling_hours must be less"):
        Params.model_validate({"min_doubling_hours": 30})
