"""Notices: what goes out about an alert, why, and when it becomes due.

Two sources produce them. Alert changes send one notice each when they happen
(``alert.raised``, ``alert.severity_raised``, ``alert.cleared``, ``alert.refired``,
``alert.resolved``, and the operators' ``alert.acknowledged``, ``alert.responding``,
``alert.reviewed``); the response clock sends ``alert.escalation`` and ``alert.overdue``
at its points (:func:`warning.clock.schedule`) unless the alert reached ``responding`` or
``resolved`` at or before the point. :func:`plan` turns one change into what it does to
its alert's notices; the live service applies plans to the ``notices`` table
(:mod:`warning.storage.notices`) and a replay to a :class:`NoticeBook` in memory, so both
follow the same rules.

A notice's :meth:`Notice.payload` is what a receiver gets, designed to be delivered as
is by a later webhook: a stable ``id`` to deduplicate on, ``type``, ``alert_id``,
``entity``, ``at`` (the moment it became due), ``elapsed_hours`` (clock notices), the
``reason`` it went out (for people), the ``actor`` of an operator's move, and the
``alert`` as it stood.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from warning.alerts import Alert, AlertChange, AlertStatus
from warning.clock import schedule
from warning.timefmt import rfc3339
from warning.workflow import CLOCK_RUNNING

CLOCK_TYPES = frozenset({"alert.escalation", "alert.overdue"})
# The alert changes that stop the clock, and those worth a notice of their own.
STOPS_CLOCK = frozenset({AlertStatus.responding, AlertStatus.resolved, AlertStatus.reviewed})
CHANGE_REASONS = {
    "raised": "new alert",
    "cleared": "the condition cleared",
    "refired": "the condition is firing again",
    "resolved": "resolved: the condition stayed clear",
}
MOVE_REASONS = {
    "acknowledged": "acknowledged by {actor}",
    "responding": "response under way, started by {actor}",
    "resolved": "resolved by {actor}",
    "reviewed": "post-mortem reviewed by {actor}",
}


@dataclass(slots=True, frozen=True)
class Notice:
    id: str
    type: str
    alert_id: str
    entity: str
    due_at: float
    reason: str
    alert: dict[str, Any]  # the alert when the notice was planned; clock notices refresh it when sent
    elapsed_hours: float | None = None
    actor: str | None = None

    @property
    def is_clock(self) -> bool:
        return self.type in CLOCK_TYPES

    def payload(self, alert: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "alert_id": self.alert_id, "entity": self.entity,
            "at": rfc3339(self.due_at), "elapsed_hours": self.elapsed_hours, "reason": self.reason,
            "actor": self.actor, "alert": self.alert if alert is None else alert,
        }


@dataclass(slots=True, frozen=True)
class NoticePlan:
    """What one alert change does to its alert's notices."""

    alert_id: str
    at: float  # when the change happened
    send: Notice | None = None  # due at the change
    clock: tuple[Notice, ...] | None = None  # the clock's points from now on: they replace pending ones
    cancel: bool = False  # the clock stopped: pending clock notices are cancelled


def plan(alert: Alert, what: str, at: float, escalation_hours: tuple[float, ...],
         actor: str | None = None) -> NoticePlan:
    """``what`` is a :class:`warning.alerts.ChangeReason` value, or the status an operator moved to."""
    snapshot: dict[str, Any] | None = None

    def notice(reason: str) -> Notice:
        nonlocal snapshot
        snapshot = snapshot or alert.to_json()
        return Notice(f"{alert.id}/v{alert.version}", f"alert.{what}", alert.id, alert.entity, at, reason,
                      snapshot, actor=actor)

    if actor is not None:  # an operator's move
        return NoticePlan(alert.id, at, notice(MOVE_REASONS[what].format(actor=actor)),
                          cancel=alert.status in STOPS_CLOCK)
    if what == "severity_raised":
        if alert.status not in CLOCK_RUNNING:
            return NoticePlan(alert.id, at)  # the response is under way: the timeline shows it, nobody is paged
        # A worse severity may have brought the deadline forward: the clock is planned anew.
        return NoticePlan(alert.id, at, notice(f"severity rose to {alert.severity.name} while {alert.status.value}"),
                          clock=clock_notices(alert, at, escalation_hours))
    reason = CHANGE_REASONS.get(what)
    if reason is None:
        return NoticePlan(alert.id, at)  # "updated": the same alert, still firing
    if what == "raised":
        return NoticePlan(alert.id, at, notice(reason), clock=clock_notices(alert, at, escalation_hours))
    return NoticePlan(alert.id, at, notice(reason), cancel=what == "resolved")


def clock_notices(alert: Alert, now: float, escalation_hours: tuple[float, ...]) -> tuple[Notice, ...]:
    """The clock's notices for ``alert`` planned at ``now``; a point already past is due now
    (the moment a deadline brought forward made it due), never in the past."""
    snapshot = alert.to_json()
    notices = []
    for point in schedule(alert.raised_at, alert.response_due_at, escalation_hours):
        if point.type == "alert.overdue":
            reason = f"no response by the deadline, {point.elapsed_hours:g} h after the alert was raised"
        else:
            reason = (f"no response {point.elapsed_hours:g} h after the alert was raised; "
                      f"the deadline is {rfc3339(alert.response_due_at)}")
        notices.append(Notice(f"{alert.id}/{point.key}", point.type, alert.id, alert.entity,
                              max(point.due_at, now), reason, snapshot, elapsed_hours=point.elapsed_hours))
    return tuple(notices)


@dataclass(slots=True)
class NoticeBook:
    """Pending and sent notices in memory: the ``notices`` table of a replay."""

    sent: list[Notice] = field(default_factory=list)
    _pending: dict[str, Notice] = field(default_factory=dict)
    _clock: dict[str, set[str]] = field(default_factory=dict)  # alert id -> its pending clock notice ids
    _done: set[str] = field(default_factory=set)  # sent or cancelled: never planned again
    _heap: list[tuple[float, int, str]] = field(default_factory=list)
    _seq: int = 0

    def apply(self, p: NoticePlan) -> None:
        pending = self._clock.setdefault(p.alert_id, set())
        keep = {n.id for n in p.clock} if p.clock is not None else pending if not p.cancel else set()
        for notice_id in pending - keep:
            del self._pending[notice_id]
            self._done.add(notice_id)
        pending &= keep
        if p.send is not None and p.send.id not in self._done:
            self._add(p.send)  # the change's own notice first: at equal times a cause precedes its effects
        for notice in p.clock or ():
            if notice.id not in self._done:
                self._add(notice)
                pending.add(notice.id)

    def _add(self, notice: Notice) -> None:
        self._pending[notice.id] = notice
        self._seq += 1
        heapq.heappush(self._heap, (notice.due_at, self._seq, notice.id))

    def send_due(self, until: float, *, inclusive: bool, alert_now: Callable[[str], dict[str, Any]]) -> None:
        """Send what is due before ``until`` (or at it, if ``inclusive``), oldest first."""
        heap = self._heap
        while heap and (heap[0][0] <= until if inclusive else heap[0][0] < until):
            due_at, _, notice_id = heapq.heappop(heap)
            notice = self._pending.get(notice_id)
            if notice is None or notice.due_at != due_at:
                continue  # cancelled, or planned anew with another due time
            del self._pending[notice_id]
            self._done.add(notice_id)
            self._clock.get(notice.alert_id, set()).discard(notice_id)
            self.sent.append(notice if not notice.is_clock else
                             Notice(notice.id, notice.type, notice.alert_id, notice.entity, notice.due_at,
                                    notice.reason, alert_now(notice.alert_id), notice.elapsed_hours))

    @property
    def pending(self) -> int:
        return len(self._pending)


def replay_notices(changes: Iterable[AlertChange], end: float,
                   escalation_hours: tuple[float, ...]) -> tuple[list[Notice], int]:
    """Every notice a replay's alert changes and clock produce on event time up to ``end``
    (the latest event time seen), and how many were still pending then.

    The changes are taken in event-time order, whatever order the series' buckets closed
    in, so a notice due before a change is sent before that change is seen: an
    escalation due at 3 h goes out unless the alert was resolved by then.
    """
    book = NoticeBook()
    latest: dict[str, Alert] = {}

    def alert_now(alert_id: str) -> dict[str, Any]:
        return latest[alert_id].to_json()

    for change in sorted(changes, key=lambda c: (c.at, c.alert.id, c.alert.version)):
        book.send_due(change.at, inclusive=False, alert_now=alert_now)
        latest[change.alert.id] = change.alert
        book.apply(plan(change.alert, change.reason.value, change.at, escalation_hours))
    book.send_due(end, inclusive=True, alert_now=alert_now)
    return book.sent, book.pending
