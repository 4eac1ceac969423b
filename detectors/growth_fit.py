"""Negative-binomial log-linear fits of a wave of counts against their expected values.

Two models of ``count[t]`` (``t = 0`` for the newest bucket, ``expected[t]`` from the
baseline, NB2 noise with 1/k = ``c``):

- :func:`fit_growth`, "normal, then growing": mean ``expected * exp(b * max(0, t - onset))``,
  for a wave that is starting. The pre-onset level is pinned to the baseline, which is
  what gives the test its power while the wave is small.
- :func:`fit_level_and_growth`, mean ``expected * exp(a + b t)`` with a free level, for a
  wave that is well under way.

Both are plain-Python Fisher scoring on a day of points: a few tens of microseconds,
paid only when a cheap pre-filter says a wave may be under way.

References
----------
McCullagh, P. and Nelder, J. A. (1989), *Generalized Linear Models*, 2nd ed., ch. 6 and
11 (log-linear models; negative-binomial errors).
"""
from __future__ import annotations

import math

from scipy.special import chdtrc

# fit_growth: (likelihood ratio against b = 0, b, var(b), onset, Pearson chi-square).
Fit = tuple[float, float, float, float, float]
# A wave's growth: log multiple of normal now, growth rate, its variance, p-value, onset.
Growth = tuple[float, float, float, float, float | None]


def fit_growth(xs: list[float], es: list[float], ts: list[float], c: float, min_hours: int) -> Fit | None:
    """The best "normal, then growing since ``onset``" fit to counts ``xs`` (expected ``es``).

    The model is NB2 with 1/k = ``c`` and mean ``e * exp(b * max(0, t - onset))``: the
    multiple is 1 until the onset and then grows log-linearly, which is how a complaint
    wave starts. The onset (at least ``min_hours`` before the newest point) is chosen by
    the score test at ``b = 0``, which needs no fitting; ``b`` is then fitted by Fisher
    scoring. Returns ``(likelihood ratio against b = 0, b, var(b), onset, Pearson
    chi-square)``, or ``None`` if nothing grows.
    """
    # Score U and information I at b = 0 for every onset, newest onset first, from running
    # sums over the points after it: U = sum((t - tau) r), I = sum((t - tau)^2 w).
    r0 = r1 = w0 = w1 = w2 = 0.0
    best, onset, j = 0.0, 0.0, len(xs) - 1
    latest = ts[-1] - min_hours
    for tau in range(int(ts[-1]) - 1, int(ts[0]) - 1, -1):
        while j >= 0 and ts[j] > tau:
            x, e, t = xs[j], es[j], ts[j]
            g = 1.0 / (1.0 + c * e)  # NB2 weight
            r, w = (x - e) * g, e * g
            r0 += r
            r1 += t * r
            w0 += w
            w1 += t * w
            w2 += t * t * w
            j -= 1
        u = r1 - tau * r0
        i = w2 - 2.0 * tau * w1 + tau * tau * w0
        if tau <= latest and u > 0.0 and i > 0.0 and u * u > best * i:
            best, onset = u * u / i, float(tau)
    if best == 0.0:
        return None
    # Newton's method (the NB2 log-likelihood is concave in b, with curvature sum(t^2 mu (1 + c x) / (1 + c mu)^2)).
    pts = [(x, e, t - onset) for x, e, t in zip(xs, es, ts) if t > onset]
    b = 0.0
    for _ in range(50):
        u = i = 0.0
        for x, e, t in pts:
            mu = e * math.exp(b * t)
            g = 1.0 / (1.0 + c * mu)
            u += t * (x - mu) * g
            i += t * t * mu * (1.0 + c * x) * g * g
        if i <= 0.0:
            return None
        step = u / i
        b = min(b + step, 1.0)
        if -1e-6 < step < 1e-6:
            break
    lr = pearson = i = 0.0
    for x, e, t in zip(xs, es, ts):
        tt = t - onset if t > onset else 0.0
        mu = e * math.exp(b * tt)
        var = mu + c * mu * mu
        pearson += (x - mu) * (x - mu) / var
        i += tt * tt * mu * mu / var
        # Log-likelihood ratio of the fit against the baseline (b = 0).
        if c > 0.0:
            lr += x * b * tt - (x + 1.0 / c) * math.log((1.0 + c * mu) / (1.0 + c * e))
        else:
            lr += x * b * tt - (mu - e)
    return (2.0 * lr, b, 1.0 / i, onset, pearson) if i > 0.0 else None


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
