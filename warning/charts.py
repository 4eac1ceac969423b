"""The evidence made visible: what to draw for an alert's series, and an entity's state.

An alert's chart is its series' recent closed buckets with three marks read from the
alert: the **baseline** (the level the rule expected, from its evidence), the
**threshold** (the level at which the rule starts to fire, from the baseline and the
rule's parameters) and the moment it **fired** (``raised_at``). Each detector kind
writes its expectation under its own evidence key and has its own firing margin, so
both are looked up in one table per kind rather than special-cased in the page.

>>> mark_levels("rate_surge", {"expected_rate": 2.0}, {"min_multiple": 3.0})
(2.0, 6.0, 'above')
>>> mark_levels("sustained_drop", {"baseline": 90.0}, {"min_drop": 0.05})
(90.0, 85.5, 'below')
>>> mark_levels("exponential_growth", {"expected": 120.0}, {"min_multiple": 1.5, "recent_hours": 6}, 3600.0)
(20.0, 30.0, 'above')
>>> mark_levels("no_data", {}, {})
(None, None, None)
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from detectors.base import Bucket, Severity
from warning.alerts import Alert
from warning.settings import Settings
from warning.storage.charts import buckets_between

# kind -> (evidence key of the expected level, how the threshold follows from it, direction)
LEVELS: dict[str, tuple[str, str, Literal["above", "below"]]] = {
    "sustained_drop": ("baseline", "min_drop", "below"),  # baseline * (1 - min_drop)
    "exponential_growth": ("expected", "min_multiple", "above"),  # expected * min_multiple
    "rate_surge": ("expected_rate", "min_multiple", "above"),
    "anomaly": ("expected", "", "above"),
    "threshold": ("", "limit", "above"),  # the limit itself; direction from the evidence
}
# Kinds whose expected level is a sum over this many hours (a parameter), not one bucket.
SUMMED_OVER_HOURS = {"exponential_growth": "recent_hours"}
BUCKETS_BEFORE = 96  # history shown before the firing, in buckets (4 days of hours, 8 h of 5-minute alarms)
BUCKETS_AFTER = 48


@dataclass(slots=True, frozen=True)
class AlertChart:
    signal: str
    entity: str
    bucket_seconds: float
    buckets: list[Bucket]
    baseline: float | None
    threshold: float | None
    direction: Literal["above", "below"] | None  # the side of the threshold where the rule fires
    fired_at: float
    cleared_at: float | None


def mark_levels(kind: str, evidence: dict[str, Any], params: dict[str, Any], bucket_seconds: float = 3600.0) -> tuple[
        float | None, float | None, Literal["above", "below"] | None]:
    """(baseline, threshold, direction) for an alert of ``kind``, per bucket of
    ``bucket_seconds``; ``None`` where unknown."""
    entry = LEVELS.get(kind)
    if entry is None:
        return None, None, None
    key, margin, direction = entry
    baseline = _number(evidence.get(key)) if key else None
    hours = _number(params.get(SUMMED_OVER_HOURS.get(kind, "")))
    if baseline is not None and hours:
        baseline /= hours * 3600.0 / bucket_seconds
    threshold: float | None = None
    if margin == "limit":
        threshold = _number(evidence.get("limit", params.get("limit")))
        direction = "below" if evidence.get("direction", params.get("direction")) == "below" else "above"
    elif baseline is not None and margin == "min_drop" and _number(params.get(margin)) is not None:
        threshold = baseline * (1.0 - float(params[margin]))
    elif baseline is not None and margin == "min_multiple" and _number(params.get(margin)) is not None:
        threshold = baseline * float(params[margin])
    return baseline, threshold, direction


def alert_chart(engine: Engine, settings: Settings, alert: Alert) -> AlertChart:
    """The buckets around ``alert``'s firing with its baseline, threshold and firing moment."""
    signal = settings.signals.get(alert.signal)
    width = signal.bucket if signal is not None else 3600.0
    params: dict[str, Any] = {}
    if signal is not None:
        rule = next((r for r in signal.rules if r.name == alert.rule), None)
        if rule is not None and hasattr(rule.params, "model_dump"):
            params = rule.params.model_dump()
    baseline, threshold, direction = mark_levels(alert.kind, alert.evidence, params, width)
    end = max(alert.last_seen_at, alert.cleared_at or 0.0, alert.resolved_at or 0.0)
    buckets = buckets_between(engine, alert.signal, alert.entity, _utc(alert.raised_at - BUCKETS_BEFORE * width),
                              _utc(end + BUCKETS_AFTER * width))
    return AlertChart(alert.signal, alert.entity, width, buckets, baseline, threshold, direction,
                      alert.raised_at, alert.cleared_at)


EntityState = Literal["normal", "watch", "alert"]


def series_state(alerts: Iterable[Alert]) -> EntityState:
    """``alert`` while an unfinished alert of at least moderate severity still fires;
    ``watch`` for a minor one (an early notice) or one whose condition has cleared but
    which nobody has resolved yet; ``normal`` otherwise."""
    state: EntityState = "normal"
    for alert in alerts:
        if alert.cleared_at is None and alert.severity >= Severity.moderate:
            return "alert"
        state = "watch"
    return state


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
