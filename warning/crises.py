"""Crises: an entity's alerts that belong together, and the fusion rule of SPEC.

A crisis is computed from alerts, never stored (only what operators add to it is:
:mod:`warning.storage.crises`). :func:`group` is pure and deterministic: the same alerts
give the same crises, with the same ids, in a replay, live, or after a restart.

Grouping. Each alert is *active* from ``raised_at`` to its :func:`activity_end`: the
latest of its last firing bucket (``last_seen_at``, which moves with the stream while the
condition holds) and the moment it was seen clear (``cleared_at``). Alerts of one entity
are taken in the order they were raised; an alert joins the current crisis when it was
raised no later than ``gap`` after the crisis' latest activity end, else it starts a new
one. Why the activity end and not the status: both times only ever grow, so a crisis
never splits as time passes (an operator resolving an alert does not tear its crisis in
two); it can only absorb a later crisis when an alert arrives that bridges the gap (a
daily satisfaction bucket closes after the hourly mentions moved on), and then the merged
crisis keeps the earlier id. The gap (``crisis_gap_hours``, 6 h by default, the length of
the response clock) lets a second signal that catches up a few hours later join the same
crisis instead of paging as a new one.

Feed-watchdog alerts (``no_data``) are left out: a silent feed says nothing about the
entity, and must not make a crisis or raise one's severity.

Fusion. The crisis' severity is the worst of its alerts', raised by the number of
distinct signals whose alerts were firing at one same moment (:func:`fused_signals`): two make it at least
``moderate``, three ``severe`` (SPEC). Signals that fired hours apart in one crisis do not
fuse: that is a sequence, not a coincidence.

Status. A crisis stands where its least advanced alert stands, in the order of the
lifecycle (``open`` < ``acknowledged`` < ``responding`` < ``resolved`` < ``reviewed``):
it is resolved only once every alert is, and a new alert joining a crisis under response
shows it as ``open`` again until someone acts on it.

Clock. The crisis is due when its earliest alert is: ``response_due_at`` of the first
alert raised (SPEC: its clock is its earliest alert's).

>>> from detectors.base import Severity
>>> from warning.alerts import Alert, AlertStatus
>>> def a(id, signal, t): return Alert(id, "threshold", f"{signal}.threshold", signal, "brand-x",
...     Severity.minor, AlertStatus.open, t, t + 3600, t + 6 * 3600, "", {}, 1.0)
>>> [c.id for c in group([a("alr_1", "mentions", 0), a("alr_2", "alarms", 1800)], gap=6 * 3600)]
['crs_1']
>>> group([a("alr_1", "mentions", 0), a("alr_2", "alarms", 1800)], gap=6 * 3600)[0].severity.name
'moderate'
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby

from detectors.base import Severity
from warning.alerts import Alert, AlertStatus

FEED_KINDS = frozenset({"no_data"})
LIFECYCLE = {status: i for i, status in enumerate(AlertStatus)}  # open ... reviewed, in order


@dataclass(slots=True, frozen=True)
class Crisis:
    """Alerts on one entity close together in time, as one incident."""

    id: str
    entity: str
    alerts: tuple[Alert, ...]  # in the order they were raised
    severity: Severity
    fused_signals: int  # the most distinct signals active at one moment
    status: AlertStatus
    started_at: float
    active_until: float
    response_due_at: float

    @property
    def signals(self) -> list[str]:
        return sorted({a.signal for a in self.alerts})


def crisis_id(first_alert_id: str) -> str:
    """``alr_<digest>`` -> ``crs_<digest>``: named after its first alert, so it is stable and
    invertible (:func:`first_alert_id`)."""
    return "crs_" + first_alert_id.removeprefix("alr_")


def first_alert_id(crisis_id: str) -> str:
    """The id of the alert a crisis id is named after; ``ValueError`` for a malformed id."""
    digest = crisis_id.removeprefix("crs_")
    if digest == crisis_id or not digest or not digest.isalnum():
        raise ValueError(f"{crisis_id!r} is not a crisis id (crs_ followed by letters and digits)")
    return "alr_" + digest


def activity_end(alert: Alert) -> float:
    """When the alert was last known active: its last firing, or the moment it was seen clear."""
    return max(alert.last_seen_at, alert.cleared_at or alert.last_seen_at)


def group(alerts: Iterable[Alert], *, gap: float) -> list[Crisis]:
    """The crises the alerts form, per entity, oldest first (see the module's rule)."""
    ordered = sorted((a for a in alerts if a.kind not in FEED_KINDS), key=lambda a: (a.entity, a.raised_at, a.id))
    crises: list[Crisis] = []
    for _, of_entity in groupby(ordered, key=lambda a: a.entity):
        members: list[Alert] = []
        until = 0.0
        for alert in of_entity:
            if members and alert.raised_at > until + gap:
                crises.append(_crisis(members))
                members = []
            until = max(until, activity_end(alert)) if members else activity_end(alert)
            members.append(alert)
        crises.append(_crisis(members))
    return crises


def fused_signals(alerts: Iterable[Alert]) -> int:
    """The largest number of distinct signals with an alert firing at one same moment.

    An alert fires from ``raised_at`` until it was seen clear; one never seen clear still
    fires as of the latest activity of the group (a daily satisfaction alert and an hourly
    mentions alert that are both still firing are at once, though their last firing
    buckets differ). A sweep over those intervals, closed at both ends: an alert raised the
    moment another cleared counts as simultaneous with it.
    """
    alerts = list(alerts)
    horizon = max((activity_end(a) for a in alerts), default=0.0)
    points: list[tuple[float, int, str]] = []
    for a in alerts:
        points.append((a.raised_at, 0, a.signal))  # 0 sorts starts before ends at the same time
        points.append((horizon if a.cleared_at is None else max(a.cleared_at, a.raised_at), 1, a.signal))
    active: dict[str, int] = {}
    most = 0
    for _, is_end, signal in sorted(points):
        active[signal] = active.get(signal, 0) + (-1 if is_end else 1)
        if not active[signal]:
            del active[signal]
        most = max(most, len(active))
    return most


def fused_severity(worst_alert: Severity, signals_at_once: int) -> Severity:
    """SPEC: two signals at once make a crisis at least moderate, three make it severe."""
    floor = Severity.severe if signals_at_once >= 3 else Severity.moderate if signals_at_once == 2 else Severity.minor
    return max(worst_alert, floor)


class TypeSource(StrEnum):
    """Where a crisis' type comes from, strongest first."""

    operator = "operator"  # set on the crisis (PUT /v1/crises/{id}/type, or its review)
    entity = "entity"  # [entities.<name>] crisis_type in the current configuration
    alert = "alert"  # the type its rule (or entity) was configured with when an alert was raised


def crisis_type(crisis: Crisis, *, operator_type: str | None,
                entity_type: str | None) -> tuple[str | None, TypeSource | None]:
    """The crisis type and its source: an operator's word over the configuration, the
    entity's current configuration over what the alerts were raised with (earliest first)."""
    if operator_type is not None:
        return operator_type, TypeSource.operator
    if entity_type is not None:
        return entity_type, TypeSource.entity
    configured = next((a.crisis_type for a in crisis.alerts if a.crisis_type is not None), None)
    return configured, None if configured is None else TypeSource.alert


def _crisis(members: list[Alert]) -> Crisis:
    first = members[0]
    signals = fused_signals(members)
    return Crisis(
        id=crisis_id(first.id),
        entity=first.entity,
        alerts=tuple(members),
        severity=fused_severity(max(a.severity for a in members), signals),
        fused_signals=signals,
        status=min((a.status for a in members), key=LIFECYCLE.__getitem__),
        started_at=first.raised_at,
        active_until=max(activity_end(a) for a in members),
        response_due_at=first.response_due_at,
    )
