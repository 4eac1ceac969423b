"""Behaviour of ``sustained_drop`` on synthetic daily satisfaction means."""
from __future__ import annotations

import numpy as np
import pytest

from detectors.base import Bucket, Finding, Severity
from detectors.sustained_drop import Params

DAY = 86400.0
WEEKDAY = np.array([0.6, 0.2, 0.0, -0.1, -0.5, -0.9, 0.7])  # Monday first, a mild pattern


def series(seed: int, days: int = 200, level: float = 90.0, noise: float = 1.5) -> np.ndarray:
    """Daily means with a weekday pattern (epoch day 0 was a Thursday)."""
    rng = np.random.default_rng(seed)
    weekday = WEEKDAY[(np.arange(days) + 3) % 7]
    return level + weekday + rng.normal(0.0, noise, days)


def run(values: np.ndarray | list[float | None], **options: float) -> list[Finding | None]:
    det = Params(**options).build()  # type: ignore[arg-type]
    out = []
    for i, v in enumerate(values):
        bucket = Bucket(i * DAY, (i + 1) * DAY, None if v is None else float(v), 1.0)
        out.append(det.score_one(bucket))
        det.learn_one(bucket)
    return out


def first(findings: list[Finding | None]) -> int | None:
    return next((i for i, f in enumerate(findings) if f is not None), None)


def episodes(findings: list[Finding | None]) -> int:
    return sum(1 for i, f in enumerate(findings) if f is not None and (i == 0 or findings[i - 1] is None))


ONSET = 120


def step(drop: float, seed: int = 1, days: int = 56) -> np.ndarray:
    values = series(seed)
    values[ONSET:ONSET + days] *= 1.0 - drop
    return values


def confirmed(findings: list[Finding | None]) -> list[Finding]:
    return [f for f in findings if f is not None and not f.evidence["provisional"]]


def notices(findings: list[Finding | None]) -> list[Finding]:
    return [f for f in findings if f is not None and f.evidence["provisional"]]


@pytest.mark.parametrize(
    ("values", "severity"),
    [
        pytest.param(step(0.15), Severity.severe, id="15 % step drop is confirmed severe"),
        pytest.param(step(0.12), Severity.moderate, id="12 % step drop is confirmed moderate"),
        pytest.param(step(0.07), Severity.minor, id="7 % step drop is confirmed minor"),
    ],
)
def test_step_drop_is_confirmed_within_two_weeks_with_severity_by_size(values: np.ndarray,
                                                                       severity: Severity) -> None:
    findings = run(values)
    at = findings.index(confirmed(findings)[0])
    assert ONSET + 7 <= at <= ONSET + 14
    assert max(f.severity for f in confirmed(findings)) == severity


@pytest.mark.parametrize("drop", [0.11, 0.13, 0.15, 0.20])
def test_a_drop_of_ten_percent_or_more_gets_an_early_notice_within_a_week(drop: float) -> None:
    findings = run(step(drop, seed=21))
    first = next(f for f in findings if f is not None)
    assert ONSET + 5 <= findings.index(first) <= ONSET + 6  # raised at the end of day 6 or 7
    assert first.severity is Severity.minor
    assert first.message.startswith("Early notice:")
    assert first.evidence["provisional"] is True and first.evidence["stage"] == "early_notice"
    assert first.evidence["relative_drop"] >= 0.10 and first.evidence["p_value"] < 1e-3


def test_the_confirmation_updates_the_same_alert() -> None:
    findings = run(step(0.15, seed=22))
    start = next(i for i, f in enumerate(findings) if f is not None)
    end = next(i for i in range(start, len(findings)) if findings[i] is None)
    episode = [f for f in findings[start:end] if f is not None]
    notice, confirmation = notices(episode), confirmed(episode)
    assert notice and confirmation and episode.index(confirmation[0]) == len(notice)  # one episode, notice first
    # The alert keeps the strongest finding as its evidence: a confirmation always outranks a notice.
    assert min(f.strength for f in confirmation) > max(f.strength for f in notice)
    assert confirmation[0].severity is Severity.severe and not confirmation[0].message.startswith("Early")


def test_a_smaller_drop_gets_no_early_notice() -> None:
    findings = run(step(0.07, seed=23))
    assert not notices(findings) and confirmed(findings)


def test_an_early_notice_nothing_confirms_clears() -> None:
    values = series(24)
    values[ONSET:ONSET + 6] *= 0.88  # 12 % for six days, then back
    findings = run(values)
    assert notices(findings) and not confirmed(findings)
    last = max(i for i, f in enumerate(findings) if f is not None)
    assert last <= ONSET + 9 and episodes(findings) == 1


def test_gradual_decline_fires_once_both_weeks_are_five_percent_down() -> None:
    values = series(2)
    ramp = np.clip((np.arange(len(values)) - ONSET) / 21.0, 0.0, 1.0)  # -12 % over three weeks
    findings = run(values * (1.0 - 0.12 * ramp))
    at = first(findings)
    assert at is not None and ONSET + 14 <= at <= ONSET + 35


def dip(drop: float, days: int, seed: int, noise: float = 1.5) -> np.ndarray:
    values = series(seed, noise=noise)
    values[ONSET:ONSET + days] *= 1.0 - drop
    return values


def outlier(seed: int) -> np.ndarray:
    values = series(seed)
    values[ONSET] *= 0.5  # one terrible day
    values[ONSET + 9] *= 0.6
    return values


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(series(3, days=365), id="a year of noise stays quiet"),
        pytest.param(dip(0.09, 7, 4), id="7-day 9 % dip stays quiet"),
        pytest.param(dip(0.08, 5, 5), id="5-day 8 % dip stays quiet"),
        pytest.param(dip(0.06, 3, 6), id="3-day 6 % dip stays quiet"),
        pytest.param(outlier(7), id="one-day outliers stay quiet"),
        pytest.param(step(0.055, seed=8) + np.random.default_rng(9).normal(0, 7.0, 200),
                     id="drop inside the noise stays quiet"),
        pytest.param(dip(0.09, 7, 14), id="7-day 9 % dip gets no early notice either"),
    ],
)
def test_distractors_stay_quiet(values: np.ndarray) -> None:
    assert first(run(values)) is None


def test_short_dips_rarely_get_an_early_notice() -> None:
    # Dips of 5-9 % for 3-7 days, as in the scenario families. A notice needs the estimate
    # of the drop at 10 %, which a 9 % dip on a noisy series can reach (a week of days
    # says no more): that is the price of a notice within a week of a 10 % drop.
    rng = np.random.default_rng(30)
    noticed = 0
    for seed in range(40):
        values = dip(rng.uniform(0.05, 0.09), int(rng.integers(3, 8)), 200 + seed, noise=rng.uniform(0.7, 2.3))
        noticed += bool(notices(run(values)))
    assert noticed <= 1


def test_one_crisis_makes_one_firing_episode() -> None:
    assert episodes(run(step(0.15, days=60))) == 1


def test_warm_up_returns_none_until_six_weeks_are_known() -> None:
    values = series(10)
    values[20:] *= 0.8  # a drop the detector cannot yet judge
    assert all(f is None for f in run(values[:41]))


def test_missing_days_are_skipped_not_counted_as_drops() -> None:
    values: list[float | None] = list(step(0.15, seed=11))
    for i in range(0, len(values), 5):
        values[i] = None
    findings = run(values)
    assert first(findings) is not None and ONSET + 5 <= first(findings) <= ONSET + 7  # type: ignore[operator]
    assert ONSET + 7 <= findings.index(confirmed(findings)[0]) <= ONSET + 14


def test_evidence_carries_baseline_weekly_means_drop_noise_and_significance() -> None:
    findings = run(step(0.15, seed=12))
    evidence = confirmed(findings)[0].evidence
    assert evidence["baseline"] == pytest.approx(90.0, abs=1.5)
    assert len(evidence["weekly_means"]) == 2
    assert all(m < 0.95 * evidence["baseline"] for m in evidence["weekly_means"])
    assert evidence["relative_drop"] == pytest.approx(0.15, abs=0.03)
    assert 0.5 < evidence["noise"] < 3.0
    assert evidence["p_value"] < 1e-6 and evidence["provisional"] is False
    notice = notices(findings)[0].evidence
    assert notice["baseline"] == evidence["baseline"]  # frozen at the first finding
    assert notice["relative_drop"] == pytest.approx(0.15, abs=0.03) and notice["days"] >= 6
    assert "%" in confirmed(findings)[0].message and "baseline" in confirmed(findings)[0].message


def test_baseline_stays_frozen_while_the_drop_lasts() -> None:
    findings = run(step(0.15, seed=13, days=70))
    baselines = {round(f.evidence["baseline"], 6) for f in findings if f is not None}
    assert len(baselines) == 1


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_dorp"):
        Params(min_dorp=0.1)  # type: ignore[call-arg]
