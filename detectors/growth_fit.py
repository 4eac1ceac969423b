"""Negative-binomial log-linear fits of a wave of counts against their expected values.

Two models of ``count[t]`` (``t = 0`` for the newest bucket, ``expected[t]`` from the
baseline, NB2 noise with 1/k = ``c``):

- :func:`fit_onset`, "normal, then growing": mean ``expected * exp(b * max(0, t - onset))``,
  for a wave that is starting. The pre-onset level is pinned to the baseline, which is
  what gives the test its power while the wave is small. The fit is the generalized
  likelihood ratio (GLR) over both the onset and ``b``: the onset by a Poisson profile
  over a grid of rates (suffix sums make every onset cost the same as one), then ``b``
  by Newton's method on the exact NB2 likelihood at that onset.
- :func:`fit_level_and_growth`, mean ``expected * exp(a + b t)`` with a free level, for a
  wave that is well under way.

:func:`fit_wave` is the first without the hours that are spikes, :class:`WaveTest` the
``exponential_growth`` rule's conditions on it, and :func:`growth_finding` the finding a
growth makes (doubling time, projections, severity). The fits run only when a cheap
sequential pre-filter says a wave may be under way: a few hundred microseconds each.

References
----------
McCullagh, P. and Nelder, J. A. (1989), *Generalized Linear Models*, 2nd ed., ch. 6 and
11 (log-linear models; negative-binomial errors). Lai, T. L. (1995), "Sequential
changepoint detection in quality control and dynamical systems", *JRSS B* 57: 613-658
(the GLR over an unknown change time).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import chdtrc

from detectors.base import Finding, Severity, rounded
from detectors.seasonal import count_tail

Vector = NDArray[np.float64]
# A wave's growth: log multiple of normal now, growth rate, its variance, p-value, onset.
Growth = tuple[float, float, float, float, float | None]
GRID = 40  # growth rates tried when profiling the onset
LN2, LN10, LN100 = math.log(2.0), math.log(10.0), math.log(100.0)


class OnsetFit(NamedTuple):
    """The GLR fit of "normal, then growing since ``onset``" (``onset`` < 0: hours ago)."""

    lr: float  # twice the log-likelihood ratio against the baseline
    b: float  # growth rate per bucket
    var_b: float  # its variance (inverse observed information)
    onset: float
    pearson: float  # Pearson chi-square of the fit over ``points`` points, each at most 9
    points: int
    residuals: Vector  # Pearson residuals, 0 where masked


def fit_onset(xs: Vector, es: Vector, c: float, min_growth: int, b_lo: float, b_hi: float,
              mask: Vector | None = None) -> OnsetFit | None:
    """The most likely "normal, then growing" fit of counts ``xs`` (expectations ``es``).

    ``b`` is searched in ``[b_lo, b_hi]`` and the onset at least ``min_growth`` buckets
    before the newest. ``mask`` (1 keep, 0 leave out) drops points, say spikes. ``None``
    when nothing in the window grows.
    """
    n = len(xs)
    w = np.ones(n) if mask is None else mask
    x, e = xs * w, es * w
    t = _times(n)
    last = n - 1 - min_growth  # the youngest onset index
    if last < 0:
        return None
    bs = _rates(b_lo, b_hi)
    # Poisson log-likelihood ratio of onset j (growth for i > j) and rate b:
    # b * sum_{i>j} x_i (t_i - t_j) - exp(-b t_j) sum_{i>j} e_i exp(b t_i) + sum_{i>j} e_i.
    def after(v: Vector) -> Vector:  # sum over i > j, for j = 0..last
        return np.cumsum(v[..., ::-1], axis=-1)[..., ::-1][..., 1:last + 2]

    tj = t[:last + 1]
    ll = (bs[:, None] * (after(x * t) - tj * after(x))
          - np.exp(-bs[:, None] * tj) * after(e * np.exp(bs[:, None] * t)) + after(e))
    j = int(np.argmax(ll) % (last + 1))
    if ll.max() <= 0.0:
        return None
    k = np.maximum(t - t[j], 0.0)
    grow = (k > 0.0) & (w > 0.0)
    kx, ke, kk = xs[grow], es[grow], k[grow]
    b = float(bs[int(np.argmax(ll[:, j]))])
    info = 1.0
    for _ in range(20):  # Newton on the exact NB2 likelihood (concave in b)
        mu = ke * np.exp(b * kk)
        g = 1.0 / (1.0 + c * mu)
        score = float(np.dot(kk * (kx - mu), g))
        info = float(np.dot(kk * kk * mu * (1.0 + c * kx), g * g))
        if info <= 0.0:
            return None
        step = score / info
        b = min(max(b + step, b_lo), b_hi)
        if abs(step) < 1e-7:
            break
    mu = es * np.exp(b * k)
    var = mu + c * mu * mu
    resid = (xs - mu) / np.sqrt(var) * w
    if c > 0.0:
        lr = float(np.dot(w, xs * b * k - (xs + 1.0 / c) * np.log((1.0 + c * mu) / (1.0 + c * es))))
    else:
        lr = float(np.dot(w, xs * b * k - (mu - es)))
    # Each point adds at most 9 (3 standard deviations) to the goodness of fit: at low counts
    # a single NB tail count would otherwise reject a fit that describes the rest well.
    pearson = float(np.minimum(resid * resid, 9.0).sum())
    return OnsetFit(2.0 * lr, b, 1.0 / info, float(t[j]), pearson, int(w.sum()), resid)


@dataclass(frozen=True, slots=True)
class WaveTest:
    """The growth test of ``exponential_growth``, from its parameters (rates per bucket)."""

    min_growth: int  # buckets a wave has grown for, at least
    b_lo: float  # the slowest growth rate that counts
    b_hi: float  # the fastest a wave can grow
    spike_hours: int
    spike_p_value: float
    min_log_multiple: float
    lr_needed: float
    fit_p_value: float

    def fit(self, xs: Vector, es: Vector, c: float, screen: bool = False) -> tuple[OnsetFit | None, int]:
        """The fit of the window, without its spikes (:func:`fit_wave`), and their number."""
        return fit_wave(xs, es, c, self.min_growth, self.b_lo, self.b_hi, self.spike_hours, self.spike_p_value,
                        self.lr_needed if screen else 0.0)

    def wave(self, xs: Vector, es: Vector, c: float) -> Growth | None:
        """The growth of a wave starting in the window, if the rule's conditions hold: the rate
        inside its bounds (data that want it slower are a trend, faster rose faster than a
        wave can), the fitted multiple, the significance and the goodness of fit."""
        fit, _ = self.fit(xs, es, c, screen=True)
        if fit is None or not self.b_lo * 1.001 < fit.b < self.b_hi * 0.999:
            return None
        if -fit.b * fit.onset < self.min_log_multiple or fit.lr < self.lr_needed:
            return None
        if chdtrc(max(fit.points - 2, 1), fit.pearson) < self.fit_p_value:
            return None
        return -fit.b * fit.onset, fit.b, fit.var_b, float(chdtrc(1, fit.lr)), fit.onset


def fit_wave(xs: Vector, es: Vector, c: float, min_growth: int, b_lo: float, b_hi: float, spike_hours: int,
             spike_p_value: float, screen_lr: float = 0.0) -> tuple[OnsetFit | None, int]:
    """:func:`fit_onset` without the hours the other hours cannot predict, and their number.

    The ``spike_hours`` hours most above their expectation are left out together and the
    rest fitted; each of them whose count is beyond what that fit predicts (NB upper tail
    below ``spike_p_value``) is a spike and stays out, the others are put back; and again,
    up to three rounds, while a round finds spikes. A spike
    jumps far faster than a wave can grow, so it is an outlier of every growth curve the
    other hours allow, while the newest hours of a wave are what the earlier ones predict.
    A fit whose likelihood ratio is under ``screen_lr`` is returned as it is (leaving hours
    out only weakens it further).
    """
    fit = fit_onset(xs, es, c, min_growth, b_lo, b_hi)
    if fit is None or not spike_hours or fit.lr < screen_lr:
        return fit, 0
    z = (xs - es) / np.sqrt(es + c * es * es)
    mask = np.ones(len(xs))
    for _ in range(3):  # a round per spike, as long as each round finds one
        top = [int(i) for i in np.argsort(z * mask)[::-1][:spike_hours] if z[i] * mask[i] > 0.0]
        kept = mask.copy()
        mask[top] = 0.0
        rest = fit_onset(xs, es, c, min_growth, b_lo, b_hi, mask)
        for i in top:
            mu = es[i] * math.exp(rest.b * max(0.0, i - (len(xs) - 1.0) - rest.onset)) if rest else es[i]
            if count_tail(xs[i], mu, 1.0 + c * mu) >= spike_p_value:
                mask[i] = 1.0
        if (mask == kept).all():
            break
    spikes = int(len(xs) - mask.sum())
    return (fit_onset(xs, es, c, min_growth, b_lo, b_hi, mask) if spikes else fit), spikes


@lru_cache(maxsize=16)
def _times(n: int) -> Vector:
    return np.arange(n, dtype=np.float64) - (n - 1)


@lru_cache(maxsize=16)
def _rates(b_lo: float, b_hi: float) -> Vector:
    return np.geomspace(b_lo, b_hi, GRID)


def growth_finding(fit: Growth | None, observed: float, expected: float, recent_hours: int, hours: float,
                   c: float) -> Finding:
    """The finding of a wave: the fit's growth evidence (``None`` where it no longer grows)
    and the multiple of normal over the last ``recent_hours`` (``observed`` over ``expected``
    counts), which is its strength. ``hours`` is the bucket width in hours.

    Severity (SPEC): ``severe`` when 100x normal is projected within 24 h, ``moderate``
    when 10x is, else ``minor``.
    """
    recent = observed / expected if expected > 0.0 else 0.0
    message = f"complaints {recent:.1f}x normal over the last {recent_hours} h"
    severity = Severity.minor
    growth: dict[str, Any] = dict.fromkeys(
        ("growth_rate_per_hour", "growth_rate_95ci", "doubling_time_hours", "multiple", "hours_to_10x",
         "hours_to_100x", "growth_started_hours_ago", "p_value"))
    if fit is not None and fit[1] > 1e-9:
        log_multiple, b, var_b, pv, onset = fit
        b, spread = b / hours, 1.96 * math.sqrt(var_b) / hours  # per hour
        to10, to100 = max(0.0, (LN10 - log_multiple) / b), max(0.0, (LN100 - log_multiple) / b)
        severity = Severity.severe if to100 <= 24 else Severity.moderate if to10 <= 24 else Severity.minor
        message = (f"complaints doubling every {LN2 / b:.0f} h, {math.exp(log_multiple):.1f}x normal, "
                   f"100x projected in {to100:.0f} h")
        growth = {
            "growth_rate_per_hour": rounded(b), "growth_rate_95ci": [rounded(b - spread), rounded(b + spread)],
            "doubling_time_hours": rounded(LN2 / b, 2), "multiple": rounded(math.exp(log_multiple)),
            "hours_to_10x": rounded(to10, 1), "hours_to_100x": rounded(to100, 1),
            "growth_started_hours_ago": None if onset is None else -onset * hours, "p_value": float(f"{pv:.3g}"),
        }
    return Finding(
        severity=severity,
        strength=recent,
        message=message,
        evidence={
            **growth, "recent_multiple": rounded(recent), "observed": observed, "expected": rounded(expected),
            "excess_variance": rounded(c), "strength_unit": "multiple of normal over the recent hours",
        },
    )


def fit_level_and_growth(xs: list[float], es: list[float], ts: list[float], c: float) -> Growth | None:
    """NB2 log-linear fit ``x ~ e * exp(a + b t)`` with a free level ``a`` (``t = 0`` newest).

    Fisher scoring from the window's mean multiple; ``None`` when the window is empty of
    counts. The p-value is the Wald test of ``b > 0``.
    """
    sx, se = sum(xs), sum(es)
    if sx <= 0.0 or se <= 0.0:
        return None
    a, b = math.log(sx / se), 0.0
    i_aa = i_ab = i_bb = 1.0
    for _ in range(30):
        u_a = u_b = i_aa = i_ab = i_bb = 0.0
        for x, e, t in zip(xs, es, ts):
            mu = e * math.exp(a + b * t)
            g = 1.0 / (1.0 + c * mu)
            w = mu * g
            u_a += (x - mu) * g
            u_b += t * (x - mu) * g
            i_aa += w
            i_ab += t * w
            i_bb += t * t * w
        det = i_aa * i_bb - i_ab * i_ab
        if det <= 0.0:
            return None
        da, db = (i_bb * u_a - i_ab * u_b) / det, (i_aa * u_b - i_ab * u_a) / det
        a, b = a + da, max(-1.0, min(1.0, b + db))
        if abs(da) < 1e-7 and abs(db) < 1e-8:
            break
    var_b = i_aa / (i_aa * i_bb - i_ab * i_ab)
    return a, b, var_b, float(chdtrc(1, b * b / var_b)) if b > 0.0 else 1.0, None
