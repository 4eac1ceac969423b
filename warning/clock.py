"""Time as an input, and the response clock's schedule.

The clock runs on wall time when live, on event time in a replay and on a manual clock
in tests; the deadline and its notices behave alike on all three because nothing here
reads the time itself: it takes ``now`` from an injected :class:`Clock`, and
:func:`schedule` is plain data computed from the alert.

Deadlines and notices are rows (``notices``), not timers: when an alert is raised its
notices are scheduled with their ``due_at`` in the same transaction that stores the
alert; a periodic tick sends those that are due and not yet sent and marks them sent in
the same transaction, so a notice that came due while the service was down goes out
once at the next tick, and never twice.

>>> [(n.type, n.elapsed_hours) for n in schedule(0.0, 6 * HOUR, (3.0, 5.0))]
[('alert.escalation', 3.0), ('alert.escalation', 5.0), ('alert.overdue', 6.0)]
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

HOUR = 3600.0


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""


class WallClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock tests move by hand: ``clock.advance(3 * HOUR)``."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, at: float) -> None:
        self._now = at


@dataclass(slots=True, frozen=True)
class Deadline:
    """One point of the response clock: due ``elapsed_hours`` after the alert was raised."""

    type: str  # alert.escalation | alert.overdue
    due_at: float
    elapsed_hours: float

    @property
    def key(self) -> str:
        """Names the point within its alert (notice ids are built from it)."""
        return "overdue" if self.type == "alert.overdue" else f"escalation-{self.elapsed_hours:g}h"


def schedule(raised_at: float, response_due_at: float, escalation_hours: tuple[float, ...]) -> list[Deadline]:
    """The escalations before the deadline, then the overdue notice at it.

    An escalation point at or past the deadline is left out: by then the overdue notice
    says more (a severe alert with a 2-hour clock has no 3-hour escalation).
    """
    points = [
        Deadline("alert.escalation", raised_at + h * HOUR, h)
        for h in sorted(set(escalation_hours)) if raised_at + h * HOUR < response_due_at
    ]
    points.append(Deadline("alert.overdue", response_due_at, (response_due_at - raised_at) / HOUR))
    return points
