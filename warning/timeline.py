"""An alert's timeline: everything that happened to it, in time order, from one place.

Detection's changes (on event time), operators' moves and role changes, the stages they
reached and the notices sent or cancelled (on the service's clock) each live in their
own table; :func:`build` merges them. At equal times a cause comes before its effects:
a detection change, then the move, the role change, the stage it reached, and last the
notices it sent or cancelled.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from warning.storage.notices import StoredNotice
from warning.workflow import MoveRecord, RoleTenure, StageReached


@dataclass(slots=True, frozen=True)
class TimelineEntry:
    at: float
    event: str  # detection.<reason> | status.<status> | role.assumed | role.renounced | stage.reached | notice.<state>
    actor: str | None = None
    comment: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def build(
    detection: Sequence[dict[str, Any]],
    moves: Sequence[MoveRecord],
    roles: Sequence[RoleTenure],
    stages: Sequence[StageReached],
    notices: Sequence[StoredNotice],
) -> list[TimelineEntry]:
    ranked: list[tuple[float, int, int, TimelineEntry]] = []

    def add(rank: int, entry: TimelineEntry) -> None:
        ranked.append((entry.at, rank, len(ranked), entry))

    for d in detection:
        add(0, TimelineEntry(d["at"].timestamp(), f"detection.{d['reason']}",
                             details={"severity": d["severity"], "version": d["version"]}))
    for m in moves:
        add(1, TimelineEntry(m.at, f"status.{m.to_status.value}", m.actor, m.comment,
                             {"action": m.action.value, "from": m.from_status.value, "to": m.to_status.value,
                              "version": m.version}))
    for t in roles:
        details = {"role": t.role.value, "name": t.name}
        add(2, TimelineEntry(t.assumed_at, "role.assumed", t.assumed_by, t.assume_comment, details))
        if t.renounced_at is not None:
            add(2, TimelineEntry(t.renounced_at, "role.renounced", t.renounced_by, t.renounce_comment, details))
    for s in stages:
        add(3, TimelineEntry(s.reached_at, "stage.reached", s.owner, details={"stage": s.stage.value}))
    for n in notices:
        when = n.sent_at or n.cancelled_at
        if when is None:
            continue  # still pending: shown with the alert's workflow, not as something that happened
        add(4, TimelineEntry(when.timestamp(), f"notice.{n.state}", details={
            "id": n.id, "type": n.type, "due_at": n.payload.get("at"),
            "elapsed_hours": n.payload.get("elapsed_hours"),
        }))
    return [entry for *_, entry in sorted(ranked, key=lambda r: r[:3])]
