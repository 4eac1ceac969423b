"""Held-back learning of the CUSUM-gated count baseline (through ``exponential_growth``)."""
from __future__ import annotations

import numpy as np

from detectors.base import Bucket
from detectors.cusum_gate import HOLD_SCORE
from detectors.exponential_growth import ExponentialGrowth, Params

HOUR = 3600.0


def lam(days: int, per_day: float = 120.0) -> np.ndarray:
    hour = np.arange(days * 24) % 24
    out: np.ndarray = per_day / 24.0 * (1.0 + 0.6 * np.sin((hour - 14.0) / 24.0 * 2.0 * np.pi))
    return out


def feed(values: np.ndarray, det: ExponentialGrowth | None = None, first: int = 0) -> ExponentialGrowth:
    det = det or Params().build()
    for i, x in enumerate(values, start=first):
        bucket = Bucket(i * HOUR, (i + 1) * HOUR, float(x), float(x))
        det.score_one(bucket)
        det.learn_one(bucket)
    return det


def test_a_quiet_series_teaches_its_true_overdispersion() -> None:
    # Holding back suspect hours for good would drop the high counts from the noise
    # estimate; learning them once cleared keeps 1/k near the truth (1/8 here).
    rng = np.random.default_rng(1)
    rate = lam(90)
    det = feed(rng.poisson(rng.gamma(8.0, rate / 8.0)))
    assert 0.09 < det.excess_variance() < 0.17
    expected = np.array([det.expected_count(h * HOUR)[0] for h in range(90 * 24, 91 * 24)])
    assert np.allclose(expected, lam(1), rtol=0.2)


def test_a_growing_wave_does_not_teach_the_baseline() -> None:
    rng = np.random.default_rng(2)
    rate = lam(40)
    rate[30 * 24:] *= 2.0 ** (np.arange(10 * 24) / 8.0).clip(max=60)  # from day 30, doubling every 8 h
    values = rng.poisson(rng.gamma(8.0, rate / 8.0))
    det = feed(values[:30 * 24])
    before = det.expected_count(30 * 24 * HOUR + 12 * HOUR)[0]
    det = feed(values[30 * 24:30 * 24 + 36], det, 30 * 24)  # a day and a half into the wave
    assert det.firing or det.held
    assert abs(det.expected_count(31 * 24 * HOUR + 12 * HOUR)[0] / before - 1.0) < 0.1


def test_suspect_hours_wait_and_are_learned_once_cleared() -> None:
    rng = np.random.default_rng(3)
    rate = lam(30)
    values = rng.poisson(rate).astype(float)
    det = feed(values[:20 * 24])
    n = det.n
    bump = values[20 * 24:20 * 24 + 3] + 4.0 * rate[20 * 24:20 * 24 + 3]  # a few busy hours: suspect
    det = feed(np.concatenate([values[:20 * 24], bump]))
    assert det.cusum >= HOLD_SCORE and det.held >= 1 and det.n == n + 3
    det = feed(np.concatenate([values[:20 * 24], bump, values[20 * 24 + 3:]]))
    assert det.held == 0 and det.cusum < HOLD_SCORE
