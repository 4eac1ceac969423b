"""The operators' side of a crisis: reading crises, acting on them, their post-mortem.

Service functions, keyword-only, as the API's router calls them. A crisis is computed on
every read from its entity's alerts (:mod:`warning.crises`); acting on it acts on its
alerts through :mod:`warning.response`, all of them in one transaction under the ingest
lock, so a crisis is never left half moved:

* ``acknowledge``, ``respond``, ``resolve`` move every alert whose state allows the move
  and leave the others as they are (an alert already resolved stays resolved); if no alert
  allows it the answer is a 409 with each alert's state and allowed moves. ``respond``
  needs an incident commander on every alert it moves.
* Roles are given (or left empty) on the alerts still under response (open,
  acknowledged, responding): naming the crisis' commander names it on each of them.
* The post-mortem review needs every alert resolved (or already reviewed); recording it
  moves the resolved ones to ``reviewed``, in the transaction that stores the review.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Connection

from warning import postmortem, response
from warning.alerts import Alert, AlertStatus
from warning.crises import Crisis, TypeSource, crisis_id, crisis_type, first_alert_id, group
from warning.errors import Conflict, NotFound
from warning.pipeline import Pipeline
from warning.settings import Settings
from warning.storage import crises as crisis_store
from warning.storage import workflow as workflow_store
from warning.storage.crises import Review, TypeSet
from warning.storage.database import AlertFilter, Database, decode_cursor, encode_cursor, translated, utc
from warning.workflow import Action, Role, Stage, allowed_actions

UNDER_RESPONSE = frozenset({AlertStatus.open, AlertStatus.acknowledged, AlertStatus.responding})
CLOSED = frozenset({AlertStatus.resolved, AlertStatus.reviewed})
MOVEMENT_WINDOW = 12  # buckets fitted on each side of the response's start (warning/postmortem.py)


@dataclass(slots=True, frozen=True)
class RoleHolder:
    """Someone holding a role on some of the crisis' alerts."""

    role: Role
    name: str
    alert_ids: list[str]


@dataclass(slots=True, frozen=True)
class CrisisView:
    """A crisis with what operators added to it."""

    crisis: Crisis
    crisis_type: str | None
    type_source: TypeSource | None
    allowed: list[str]  # moves allowed on some alert, and review once all are closed
    roles: list[RoleHolder]
    review: Review | None


@dataclass(slots=True, frozen=True)
class CrisisFilter:
    entity: str | None = None
    status: AlertStatus | None = None
    since: float | None = None  # crises active at or after this time


@dataclass(slots=True, frozen=True)
class ReviewInput:
    """What operators write in a post-mortem (validated by the API's schema)."""

    summary: str
    root_cause: str
    crisis_type: str
    impact: dict[str, Any]
    remedies: list[str]
    lessons: list[str]


class CrisisNotResolved(Conflict):
    """A post-mortem before every alert of the crisis is resolved."""

    kind = "crisis_not_resolved"

    def __init__(self, crisis: Crisis) -> None:
        self.open = [{"id": a.id, "status": a.status.value} for a in crisis.alerts if a.status not in CLOSED]
        super().__init__(f"crisis {crisis.id!r} has alerts not yet resolved ("
                         f"{', '.join(a['id'] + ': ' + a['status'] for a in self.open)}); resolve them first")

    def details(self) -> dict[str, Any]:
        return {"alerts": self.open}


class CrisisClosed(Conflict):
    """A role change on a crisis none of whose alerts is still under response."""

    kind = "crisis_closed"

    def __init__(self, crisis: Crisis) -> None:
        super().__init__(f"crisis {crisis.id!r} is {crisis.status.value}: no alert is under response any more")


# -- reads --------------------------------------------------------------------------------------


def list_crises(db: Database, settings: Settings, filters: CrisisFilter, *, limit: int,
                cursor: str | None) -> tuple[list[CrisisView], str | None]:
    """Crises newest first (by start, then id), ``limit`` at a time, as ``GET /v1/alerts`` pages.
    ``ValueError`` for a cursor that is not one."""
    alerts = _alerts(db, filters.entity)
    crises = [c for c in group(alerts, gap=_gap(settings))
              if (filters.status is None or c.status is filters.status)
              and (filters.since is None or c.active_until >= filters.since)]
    crises.sort(key=lambda c: (c.started_at, c.id), reverse=True)
    if cursor is not None:
        started, after_id = decode_cursor(cursor)
        crises = [c for c in crises if (c.started_at, c.id) < (started.timestamp(), after_id)]
    page = crises[:limit]
    next_cursor = encode_cursor(utc(page[-1].started_at), page[-1].id) if len(crises) > limit else None
    return _views(db, settings, page, with_roles=False), next_cursor


def get_crisis(db: Database, settings: Settings, *, crisis_id: str) -> CrisisView:
    """The crisis, by its id or the id of a crisis it has since absorbed."""
    return _views(db, settings, [find(db, settings, crisis_id=crisis_id)], with_roles=True)[0]


def find(db: Database, settings: Settings, *, crisis_id: str) -> Crisis:
    try:
        alert_id = first_alert_id(crisis_id)
    except ValueError:
        raise NotFound(f"no crisis with id {crisis_id!r}") from None
    alert = db.get_alert(alert_id)
    if alert is None:
        raise NotFound(f"no crisis with id {crisis_id!r}")
    found = next((c for c in group(_alerts(db, alert.entity), gap=_gap(settings))
                  if any(a.id == alert_id for a in c.alerts)), None)
    if found is None:  # the alert is a feed-watchdog alert, which no crisis holds
        raise NotFound(f"no crisis with id {crisis_id!r}")
    return found


# -- changes ------------------------------------------------------------------------------------


def act(ops: response.Operator, *, crisis_id: str, action: Action, actor: str, comment: str | None,
        now: float) -> tuple[CrisisView, list[str]]:
    """Acknowledge, respond or resolve the crisis: the alerts that allow it; returns the ids moved."""
    crisis = find(ops.database, ops.settings, crisis_id=crisis_id)
    moved = response.move_where_allowed(ops, alert_ids=_ids(crisis.alerts), action=action, actor=actor,
                                        comment=comment, now=now)
    return get_crisis(ops.database, ops.settings, crisis_id=crisis.id), moved


def assume_role(ops: response.Operator, *, crisis_id: str, role: Role, name: str, actor: str,
                comment: str | None, now: float) -> tuple[CrisisView, list[str]]:
    crisis = find(ops.database, ops.settings, crisis_id=crisis_id)
    changed = response.assume_role_on_all(ops, alert_ids=_under_response(crisis), role=role, name=name,
                                          actor=actor, comment=comment, now=now)
    return get_crisis(ops.database, ops.settings, crisis_id=crisis.id), changed


def renounce_role(ops: response.Operator, *, crisis_id: str, role: Role, actor: str, comment: str | None,
                  now: float) -> tuple[CrisisView, list[str]]:
    crisis = find(ops.database, ops.settings, crisis_id=crisis_id)
    changed = response.renounce_role_on_all(ops, alert_ids=_under_response(crisis), role=role, actor=actor,
                                            comment=comment, now=now)
    return get_crisis(ops.database, ops.settings, crisis_id=crisis.id), changed


def set_type(db: Database, settings: Settings, *, crisis_id: str, crisis_type: str, actor: str,
             comment: str | None, now: float) -> CrisisView:
    """The operator's type, over whatever the configuration says."""
    crisis = find(db, settings, crisis_id=crisis_id)
    with translated("set the crisis type"), db.engine.begin() as conn:
        crisis_store.set_type(conn, TypeSet(crisis.id, crisis_type, actor, now, comment))
    return get_crisis(db, settings, crisis_id=crisis.id)


def record_review(ops: response.Operator, *, crisis_id: str, review: ReviewInput, actor: str,
                  now: float) -> CrisisView:
    """Store the post-mortem with the signals' movement, and move resolved alerts to reviewed.

    The review's crisis type becomes the operator-set type: the post-mortem is the last word.
    """
    db, settings = ops.database, ops.settings
    crisis = find(db, settings, crisis_id=crisis_id)
    if any(a.status not in CLOSED for a in crisis.alerts):
        raise CrisisNotResolved(crisis)
    record = Review(crisis.id, _ids(crisis.alerts), review.summary, review.root_cause, review.crisis_type,
                    review.impact, review.remedies, review.lessons, movements(db, settings, crisis), actor, now)

    def write(conn: Connection) -> None:
        crisis_store.write_review(conn, record)
        crisis_store.set_type(conn, TypeSet(crisis.id, review.crisis_type, actor, now, "post-mortem review"))

    resolved = [a.id for a in crisis.alerts if a.status is AlertStatus.resolved]
    if resolved:
        response.move_where_allowed(ops, alert_ids=resolved, action=Action.review, actor=actor, comment=None,
                                    now=now, also=write)
    else:  # every alert already reviewed: the review is being revised
        def revise(pipeline: Pipeline) -> response.Operation:
            return response.Operation(write)

        ops.operate(revise)
    return get_crisis(db, settings, crisis_id=crisis.id)


def movements(db: Database, settings: Settings, crisis: Crisis) -> list[dict[str, Any]]:
    """How each signal of the crisis moved after the response began (:mod:`warning.postmortem`)."""
    began = response_began(db, crisis)
    out: list[dict[str, Any]] = []
    for signal in crisis.signals:
        cfg = settings.signals.get(signal)
        if cfg is None:  # no longer configured: its buckets' meaning is unknown
            continue
        since = utc(min(crisis.started_at, began) - 2 * MOVEMENT_WINDOW * cfg.bucket)
        buckets = db.buckets(signal, crisis.entity, since=since)
        m = postmortem.movement(signal, buckets, aggregate=cfg.aggregate, crisis_started_at=crisis.started_at,
                                response_started_at=began, window=MOVEMENT_WINDOW)
        out.append({k: v.value if isinstance(v, postmortem.Verdict) else v for k, v in asdict(m).items()})
    return out


def response_began(db: Database, crisis: Crisis) -> float:
    """When the response began: the first ``respond`` on any of the crisis' alerts, else the
    first operator's resolve, else the first acknowledge; if operators did none of these
    (every alert resolved itself), the first resolution.

    Moves are timed by the service's clock (wall time live) and buckets by event time: the
    comparison assumes events arrive about when they happen, as they do live. Events posted
    long after the fact (a back-fill) put the response's start out of step with the buckets."""
    stages: dict[Stage, list[float]] = {}
    with translated("read the crisis' stages"), db.engine.connect() as conn:
        for alert in crisis.alerts:
            for s in workflow_store.read_stages(conn, alert.id):
                stages.setdefault(s.stage, []).append(s.reached_at)
    for stage in (Stage.action, Stage.effect_tracking, Stage.alert_response):
        if stage in stages:
            return min(stages[stage])
    return min((a.resolved_at for a in crisis.alerts if a.resolved_at is not None), default=crisis.active_until)


# -- helpers ------------------------------------------------------------------------------------


def _views(db: Database, settings: Settings, crises: Sequence[Crisis], *, with_roles: bool) -> list[CrisisView]:
    candidates = {c.id: [crisis_id(a.id) for a in c.alerts] for c in crises}
    every_id = [i for ids in candidates.values() for i in ids]
    with translated("read the crises"), db.engine.connect() as conn:
        types = crisis_store.types_of(conn, every_id)
        reviews = crisis_store.reviews_of(conn, every_id)
        roles = {c.id: _roles(conn, c) for c in crises} if with_roles else {}
    views = []
    for c in crises:
        set_by_operator = crisis_store.lookup(types, c.id, candidates[c.id], lambda t: t.set_at)
        entity = settings.entities.get(c.entity)
        kind, source = crisis_type(c, operator_type=set_by_operator.crisis_type if set_by_operator else None,
                                   entity_type=entity.crisis_type if entity else None)
        views.append(CrisisView(c, kind, source, _allowed(c), roles.get(c.id, []),
                                crisis_store.lookup(reviews, c.id, candidates[c.id], lambda r: r.reviewed_at)))
    return views


def _allowed(crisis: Crisis) -> list[str]:
    """The moves allowed on at least one alert; ``review`` (the post-mortem) once all are closed."""
    moves = {m for a in crisis.alerts for m in allowed_actions(a.status)} - {Action.review.value}
    if all(a.status in CLOSED for a in crisis.alerts):
        moves.add(Action.review.value)
    return sorted(moves, key=[a.value for a in Action].index)


def _roles(conn: Connection, crisis: Crisis) -> list[RoleHolder]:
    """Who holds which role now, over all the crisis' alerts (a union: two people may hold one
    role on different alerts)."""
    held: dict[tuple[Role, str], list[str]] = {}
    for alert in crisis.alerts:
        for tenure in workflow_store.read_roles(conn, alert.id):
            if tenure.renounced_at is None:
                held.setdefault((tenure.role, tenure.name), []).append(alert.id)
    order = list(Role)
    return [RoleHolder(role, name, ids) for (role, name), ids in
            sorted(held.items(), key=lambda item: (order.index(item[0][0]), item[0][1]))]


def _alerts(db: Database, entity: str | None) -> list[Alert]:
    if entity is None:
        return db.all_alerts()
    alerts: list[Alert] = []
    cursor: str | None = None
    while True:
        page, cursor = db.list_alerts(AlertFilter(entity=entity), limit=500, cursor=cursor)
        alerts += page
        if cursor is None:
            return alerts


def _under_response(crisis: Crisis) -> list[str]:
    ids = [a.id for a in crisis.alerts if a.status in UNDER_RESPONSE]
    if not ids:
        raise CrisisClosed(crisis)
    return ids


def _ids(alerts: Sequence[Alert]) -> list[str]:
    return [a.id for a in alerts]


def _gap(settings: Settings) -> float:
    return settings.crisis_gap_hours * 3600.0
