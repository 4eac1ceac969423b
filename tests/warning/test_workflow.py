"""The table of allowed moves: every (action, state) pair, allowed or refused, and the stages."""
from __future__ import annotations

import itertools

import pytest

from warning.alerts import AlertStatus
from warning.workflow import (
    STAGE_OF_ACTION,
    Action,
    InvalidTransition,
    Role,
    Stage,
    allowed_actions,
    next_state,
    stage_of_role,
)

S = AlertStatus
ALLOWED = {
    (Action.acknowledge, S.open): S.acknowledged,
    (Action.respond, S.open): S.responding,
    (Action.respond, S.acknowledged): S.responding,
    (Action.resolve, S.open): S.resolved,
    (Action.resolve, S.acknowledged): S.resolved,
    (Action.resolve, S.responding): S.resolved,
    (Action.review, S.resolved): S.reviewed,
}
REFUSED = [pair for pair in itertools.product(Action, S) if pair not in ALLOWED]


@pytest.mark.parametrize(("action", "current", "target"), [
    pytest.param(a, s, t, id=f"{a.value} from {s.value}") for (a, s), t in ALLOWED.items()
])
def test_each_allowed_move_leads_to_its_state(action: Action, current: AlertStatus, target: AlertStatus) -> None:
    assert next_state(action, current) is target


@pytest.mark.parametrize(("action", "current"), [
    pytest.param(a, s, id=f"{a.value} from {s.value}") for a, s in REFUSED
])
def test_every_other_move_is_refused_with_the_state_and_the_allowed_moves(action: Action,
                                                                          current: AlertStatus) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_state(action, current)

    assert refused.value.kind == "invalid_transition"
    assert refused.value.details() == {"current": current.value, "allowed": allowed_actions(current)}
    assert f"cannot {action.value} an alert that is {current.value}" in str(refused.value)


def test_there_are_seven_allowed_moves_and_thirteen_refused() -> None:
    assert (len(ALLOWED), len(REFUSED)) == (7, 13)


@pytest.mark.parametrize(("state", "allowed"), [
    pytest.param(S.open, ["acknowledge", "respond", "resolve"], id="open"),
    pytest.param(S.acknowledged, ["respond", "resolve"], id="acknowledged"),
    pytest.param(S.responding, ["resolve"], id="responding"),
    pytest.param(S.resolved, ["review"], id="resolved"),
    pytest.param(S.reviewed, [], id="reviewed: closed for good"),
])
def test_allowed_actions_per_state(state: AlertStatus, allowed: list[str]) -> None:
    assert allowed_actions(state) == allowed


def test_every_allowed_move_goes_forward_so_nothing_reopens_an_alert() -> None:
    order = list(S)

    assert all(order.index(target) > order.index(current) for (_, current), target in ALLOWED.items())


def test_moves_and_roles_reach_all_six_stages() -> None:
    reached = set(STAGE_OF_ACTION.values()) | {stage_of_role(role) for role in Role}

    assert reached == set(Stage)
    assert stage_of_role(Role.incident_commander) is Stage.assessment
    assert stage_of_role(Role.legal_adviser) is Stage.resource_allocation
