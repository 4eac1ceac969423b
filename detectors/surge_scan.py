"""The scan statistics of ``rate_surge``: the newest buckets of a count series, window by window.

For each window of the ``k`` newest buckets (``k`` from 2 to the ring's length), two tests
that no single bucket, however tall, can pass on its own, so a one-bucket blip never fires:

- the window's count without its largest bucket, against its expected count (a sum of NB2
  counts: variance ``phi`` times the mean, ``phi = 1 + c * sum(e^2) / sum(e)``);
- for windows of up to ``FLOOR_BUCKETS``, the chance that every one of its buckets counts
  at least its smallest (a product of NB tails, exact under the baseline). This is what
  lets two buckets that are both far above normal fire at once on a service with one
  alarm every few buckets, where the first test would need the second bucket alone to be
  conclusive.

References
----------
Naus, J. I. (1982), "Approximations for distributions of scan statistics", *JASA* 77:
177-183.
"""
from __future__ import annotations

from array import array

from detectors.seasonal import count_tail

# A window of the newest buckets: its count, expected count and dispersion without its
# largest bucket, its smallest count, and its length in buckets.
Window = tuple[float, float, float, float, int]
# The most significant window: p-value, count, expected count, dispersion, length.
Best = tuple[float, float, float, float, int]
FLOOR_BUCKETS = 3  # the longest window also tested by its smallest bucket


def windows(xs: array[float], es: array[float], n: int, x: float, e: float, c: float) -> list[Window]:
    """Every window ending with the bucket (count ``x``, expected ``e``) that follows the ``n``
    buckets in the rings ``xs`` and ``es`` (bucket ``i`` in slot ``i % len``), shortest first."""
    m = len(xs)
    out = []
    sx, se, se2, top, top_e, low = x, e, e * e, x, e, x
    for k in range(2, min(m, n) + 1):
        j = (n - k + 1) % m
        sx += xs[j]
        se += es[j]
        se2 += es[j] * es[j]
        low = min(low, xs[j])
        if xs[j] > top:
            top, top_e = xs[j], es[j]
        rest_e = se - top_e
        if rest_e > 0.0:
            out.append((sx - top, rest_e, 1.0 + c * (se2 - top_e * top_e) / rest_e, low, k))
    return out


def floor_tail(low: float, k: int, es: array[float], n: int, e: float, c: float) -> float:
    """P(each of the newest ``k`` buckets, the last expecting ``e``, counts ``low`` or more)."""
    m = len(es)
    pv = count_tail(low, e, 1.0 + c * e)
    for i in range(n - k + 1, n):
        pv *= count_tail(low, es[i % m], 1.0 + c * es[i % m])
    return pv


def scan(found: list[Window], xs: array[float], es: array[float], n: int, e: float, c: float,
         min_multiple: float, alpha: float, clear_multiple: float | None) -> Best | None:
    """The most significant of the windows ``found`` (see :func:`windows`) at ``alpha`` whose
    count without its largest bucket is ``min_multiple`` times normal; failing one, while a
    surge is open (``clear_multiple`` given), the longest if still that far above normal."""
    best: Best | None = None
    for rest, rest_e, phi, low, k in found:
        if rest < min_multiple * rest_e:
            continue
        pv = 1.0
        # Normal z below 4: count tails are heavier, so the exact test cannot pass.
        if (rest - rest_e) ** 2 >= 16.0 * phi * rest_e:
            pv = count_tail(rest, rest_e, phi)
        if k <= FLOOR_BUCKETS and pv >= alpha and low >= min_multiple * rest_e / (k - 1):
            pv = min(pv, floor_tail(low, k, es, n, e, c))
        if pv < alpha and (best is None or pv < best[0]):
            best = (pv, rest, rest_e, phi, k)
    if best is None and clear_multiple is not None and found:
        rest, rest_e, phi, _, k = found[-1]  # weaker, but the newest buckets are still well above normal
        if rest >= clear_multiple * rest_e:
            best = (count_tail(rest, rest_e, phi), rest, rest_e, phi, k)
    return best
