"""The two tests of ``sustained_drop`` on the last days of a satisfaction series.

Both take the last 14 days, less their weekday offsets (NaN for a day without data), the
reference level (the baseline median, frozen while an alert is open), the baseline's
robust standard deviation and how many days it rests on, and return a
:class:`detectors.base.Finding` or ``None``:

- :func:`confirmed_drop`, the SPEC's rule: each of the two weeks at least ``min_drop``
  below and ``z`` standard errors deep;
- :func:`early_notice`, the provisional word that a large drop is under way.

A finding's strength is its relative drop, plus 1 once confirmed, so that the alert (which
keeps the strongest finding as its evidence) shows the confirmation once there is one.
"""
from __future__ import annotations

import math
from typing import Protocol

from detectors.base import Finding, Severity, rounded


class DropParams(Protocol):
    @property
    def min_drop(self) -> float: ...
    @property
    def z(self) -> float: ...
    @property
    def clear_drop(self) -> float: ...
    @property
    def min_days(self) -> int: ...
    @property
    def early_drop(self) -> float: ...
    @property
    def early_days(self) -> int: ...


def confirmed_drop(recent: list[float], ref: float, noise: float, counted: float, firing: bool,
                   p: DropParams) -> Finding | None:
    """The confirmed sustained drop, if the last two weeks of ``recent`` (14 adjusted days,
    NaN for no data, oldest first) are both ``min_drop`` below ``ref`` and ``z`` standard
    errors deep (``clear_drop`` while ``firing``). ``noise`` is the baseline's standard
    deviation and ``counted`` its days."""
    needed = p.clear_drop if firing else p.min_drop
    weeks: list[tuple[float, int, float]] = []
    for week in (recent[7:], recent[:7]):  # the newest first: most days it ends there
        if math.isnan(sum(week)):
            week = [v for v in week if not math.isnan(v)]
        k = len(week)
        if k < p.min_days:
            return None
        # The mean of the middle days: the two highest and two lowest of seven left out,
        # one each of five or six, so that neither an outlier nor a short dip that
        # straddles two weeks makes a weekly drop.
        week.sort()
        trim = 2 if k >= 7 else 1 if k >= 5 else 0
        mean = sum(week[trim:k - trim]) / (k - 2 * trim)
        if (ref - mean) / ref < needed:
            return None
        # Its standard error against the baseline median (1.22 and pi/2: the variance
        # inflation of that trimmed mean and of a median under normal noise).
        weeks.insert(0, (mean, k, (ref - mean) / (noise * math.sqrt(1.22 / k + 1.571 / counted))))
    zs = [z for *_, z in weeks]
    if not firing and min(zs) < p.z:
        return None
    drops = [(ref - m) / ref for m, _, _ in weeks]
    drop = drops[1]
    return Finding(
        severity=Severity.severe if drop >= 0.15 else Severity.moderate if drop >= 0.10 else Severity.minor,
        strength=1.0 + drop,
        message=f"satisfaction {weeks[1][0]:.1f} vs baseline {ref:.1f} ({-100 * drop:.1f} %), two weeks running",
        evidence={
            "provisional": False, "stage": "confirmed", "baseline": rounded(ref),
            "weekly_means": [rounded(m) for m, _, _ in weeks], "relative_drop": rounded(drop),
            "weekly_drops": [rounded(d) for d in drops], "noise": rounded(noise), "z": [rounded(z, 2) for z in zs],
            "p_value": _normal_tail(min(zs)), "days": [k for _, k, _ in weeks], "baseline_days": int(counted),
            "strength_unit": "relative drop, plus 1 once confirmed",
        },
    )


def early_notice(recent: list[float], ref: float, noise: float, counted: float, firing: bool,
                 p: DropParams) -> Finding | None:
    """The early notice, if the last ``early_days`` to 7 days each lie ``min_drop`` below
    ``ref`` and together, without their deepest and highest day, ``early_drop`` below it
    and ``z`` standard errors beyond ``min_drop``. While ``firing``, it holds while the last
    four days stay ``clear_drop`` below."""
    if not p.early_days:
        return None
    if firing:  # keep the notice while the last four days stay clear_drop below
        last = [v for v in recent[-4:] if not math.isnan(v)]
        if not last or (ref - sum(last) / len(last)) / ref < p.clear_drop:
            return None
    run: list[float] = []
    for v in reversed(recent[-7:]):
        if not math.isnan(v):
            if (ref - v) / ref < p.min_drop:
                break
            run.append(v)
    k = len(run)
    if k < p.early_days and not firing:
        return None
    if k >= 2:
        trim = 1 if k >= 4 else 0  # without its deepest and its highest day, as a week
        mean = sum(sorted(run)[trim:k - trim]) / (k - 2 * trim)
        se = noise * math.sqrt(1.2 / k + 1.571 / counted)
    else:
        last = [v for v in recent[-4:] if not math.isnan(v)]
        mean, se = sum(last) / len(last), noise * math.sqrt(1.0 / len(last) + 1.571 / counted)
    drop = (ref - mean) / ref
    z = (drop - p.min_drop) * ref / se
    if not firing and (drop < p.early_drop or z < p.z):
        return None
    return Finding(
        severity=Severity.minor,
        strength=max(drop, 0.0),
        message=f"Early notice: satisfaction {mean:.1f} vs baseline {ref:.1f} ({-100 * drop:.1f} %) "
                f"for {k} days; provisional until two weeks confirm it",
        evidence={
            "provisional": True, "stage": "early_notice", "baseline": rounded(ref), "recent_mean": rounded(mean),
            "relative_drop": rounded(drop), "days": k, "noise": rounded(noise), "z": rounded(z, 2),
            "p_value": _normal_tail(z), "baseline_days": int(counted),
            "strength_unit": "relative drop, plus 1 once confirmed",
        },
    )


def _normal_tail(z: float) -> float:
    """One-sided normal p-value of ``z``, for evidence."""
    return float(f"{0.5 * math.erfc(z / math.sqrt(2.0)):.3g}")
