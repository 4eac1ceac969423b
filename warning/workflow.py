"""The response workflow of SPEC: one table of allowed moves, the roles, the six stages.

An alert goes ``open`` -> ``acknowledged`` -> ``responding`` -> ``resolved`` ->
``reviewed``. :data:`MOVES` is the whole of the lifecycle: an action is allowed from the
states listed for it and leads to one state; anything else raises
:class:`InvalidTransition`, which names the current state and the actions allowed from it,
so the 409 an operator gets says what they *can* do. Every allowed move goes forward in
that order: nothing ever reopens an alert (a new firing raises a new one instead).

Stages are reached, never set: the moves and role changes an operator makes anyway fill
them in (:data:`STAGE_OF_ACTION`, :data:`STAGE_OF_ROLE`), each once, with the time and the
actor of the change that reached it. A stage the team went through without telling Tocsin
stays empty rather than being back-filled with a time nobody recorded.

>>> next_state(Action.acknowledge, AlertStatus.open).value
'acknowledged'
>>> allowed_actions(AlertStatus.resolved)
['review']
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from warning.alerts import AlertStatus
from warning.errors import Conflict

S = AlertStatus


class Action(StrEnum):
    acknowledge = "acknowledge"
    respond = "respond"
    resolve = "resolve"
    review = "review"


# action -> (states it may be taken from, state it leads to)
MOVES: dict[Action, tuple[frozenset[AlertStatus], AlertStatus]] = {
    Action.acknowledge: (frozenset({S.open}), S.acknowledged),
    Action.respond: (frozenset({S.open, S.acknowledged}), S.responding),
    Action.resolve: (frozenset({S.open, S.acknowledged, S.responding}), S.resolved),
    Action.review: (frozenset({S.resolved}), S.reviewed),
}

# States in which the response clock still runs: its notices are pending until one of
# the others is reached.
CLOCK_RUNNING = frozenset({S.open, S.acknowledged})


class Role(StrEnum):
    """The roles of SPEC's response team (the information officer is the spokesperson)."""

    incident_commander = "incident_commander"
    information_officer = "information_officer"
    technical_lead = "technical_lead"
    customer_care_lead = "customer_care_lead"
    legal_adviser = "legal_adviser"


class Stage(StrEnum):
    """The six stages of a response, in order."""

    alert_response = "alert_response"
    assessment = "assessment"
    resource_allocation = "resource_allocation"
    action = "action"
    effect_tracking = "effect_tracking"
    post_mortem_review = "post_mortem_review"


# Someone has seen the alert; the response proper is under way; it is over and its effect
# is being watched; the post-mortem is recorded.
STAGE_OF_ACTION: dict[Action, Stage] = {
    Action.acknowledge: Stage.alert_response,
    Action.respond: Stage.action,
    Action.resolve: Stage.effect_tracking,
    Action.review: Stage.post_mortem_review,
}


def stage_of_role(role: Role) -> Stage:
    """The commander's first job is assessing; naming anyone else allocates resources."""
    return Stage.assessment if role is Role.incident_commander else Stage.resource_allocation


class InvalidTransition(Conflict):
    """The action is not allowed from the alert's current state."""

    kind = "invalid_transition"

    def __init__(self, action: Action, current: AlertStatus) -> None:
        self.action = action
        self.current = current
        self.allowed = allowed_actions(current)
        allowed = ", ".join(self.allowed) or "nothing (the alert is closed)"
        super().__init__(f"cannot {action.value} an alert that is {current.value}; allowed from "
                         f"{current.value}: {allowed}")

    def details(self) -> dict[str, Any]:
        return {"current": self.current.value, "allowed": self.allowed}


class MissingRole(Conflict):
    """The alert needs someone in ``role`` for this (``respond`` needs an incident commander)."""

    kind = "missing_role"

    def __init__(self, role: Role, message: str) -> None:
        self.role = role
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        return {"role": self.role.value}


class RoleNotHeld(Conflict):
    """Renouncing a role that nobody holds on the alert."""

    kind = "role_not_held"

    def __init__(self, role: Role, *alert_ids: str) -> None:
        self.role = role
        where = f"alert {alert_ids[0]!r}" if len(alert_ids) == 1 else f"any of the alerts {', '.join(alert_ids)}"
        super().__init__(f"nobody holds {role.value} on {where}")

    def details(self) -> dict[str, Any]:
        return {"role": self.role.value}


def allowed_actions(state: AlertStatus) -> list[str]:
    return [action.value for action, (sources, _) in MOVES.items() if state in sources]


def next_state(action: Action, current: AlertStatus) -> AlertStatus:
    sources, target = MOVES[action]
    if current not in sources:
        raise InvalidTransition(action, current)
    return target


@dataclass(slots=True, frozen=True)
class MoveRecord:
    """One operator's move, as recorded: who, when, from where to where, and why."""

    action: Action
    from_status: AlertStatus
    to_status: AlertStatus
    version: int  # the alert version the move produced
    actor: str
    at: float
    comment: str | None = None


@dataclass(slots=True, frozen=True)
class RoleTenure:
    """One person in one role on one alert, from ``assumed_at`` until ``renounced_at``."""

    id: int
    role: Role
    name: str
    assumed_at: float
    assumed_by: str
    assume_comment: str | None = None
    renounced_at: float | None = None
    renounced_by: str | None = None
    renounce_comment: str | None = None


@dataclass(slots=True, frozen=True)
class StageReached:
    stage: Stage
    reached_at: float
    owner: str
